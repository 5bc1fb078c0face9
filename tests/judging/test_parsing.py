"""Reading judges' answers: markers, JSON objects and verdict-token probabilities."""

from __future__ import annotations

import math

import pytest

from apps.judging.parsing import (
    extract_json_object,
    p_first_from_logprobs,
    parse_reasoned,
    parse_verdict,
    verdict_token_class,
    verdict_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[A]]", "first"),
        ("[[B]]", "second"),
        ("[[C]]", "tie"),
        ("[[tie]]", "tie"),
        ("[[ b ]]", "second"),
        ("Assistant A is more accurate, so my verdict is [[A]].", "first"),
        # The last marker wins: judges restate the options before concluding.
        ("Options: [[A]] if A is better, [[B]] if B is better.\nFinal: [[B]]", "second"),
        ("At first I leaned [[B]], but on reflection [[A]]", "first"),
        ("Final verdict: B", "second"),
        ("Verdict - Assistant A", "first"),
        ("verdict: **tie**", "tie"),
        ("A", "first"),
        (" B\n", "second"),
        ("(A)", "first"),
        ("**B**", "second"),
        ("Assistant B.", "second"),
        ("tie", "tie"),
        ("C", "tie"),
        ("I'm sorry, but I cannot compare these responses.", "invalid"),
        ("I cannot help with that request.", "invalid"),
        ("", "invalid"),
        ("Both responses have merit and a verdict is a matter of taste.", "invalid"),
        ("Answer D", "invalid"),
        ("[[D]]", "invalid"),
    ],
)
def test_parse_verdict(text: str, expected: str) -> None:
    assert parse_verdict(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A", "first"),
        ("b", "second"),
        ("tie", "tie"),
        ("Tie.", "tie"),
        ("[[A]]", "first"),
        ("Assistant B", "second"),
        ("equal", "tie"),
        ("neither", "tie"),
        ("banana", "invalid"),
        (1, "invalid"),
        (None, "invalid"),
    ],
)
def test_verdict_value(value: object, expected: str) -> None:
    assert verdict_value(value) == expected


@pytest.mark.parametrize(
    ("text", "verdict", "rationale", "criteria"),
    [
        (
            '{"rationale": "A cites the policy.", "criteria": {"accuracy": "A", "tone": "tie"},'
            ' "verdict": "A"}',
            "first",
            "A cites the policy.",
            {"accuracy": "first", "tone": "tie"},
        ),
        (
            'Here is my judgment:\n```json\n{"rationale": "B is safer", "criteria": '
            '{"safety": "B"}, "verdict": "B"}\n```\nThanks.',
            "second",
            "B is safer",
            {"safety": "second"},
        ),
        (
            'Sure. {"rationale": "close call", "criteria": {"x": "tie",}, "verdict": "tie",}',
            "tie",
            "close call",
            {"x": "tie"},
        ),
        (
            "{'rationale': \"A's answer is complete\", 'criteria': {'depth': 'A'}, "
            "'verdict': 'A', 'confident': true}",
            "first",
            "A's answer is complete",
            {"depth": "first"},
        ),
        (
            '{"rationale": "The {braces} in text", "criteria": {"k": "maybe"}, "verdict": "B"}',
            "second",
            "The {braces} in text",
            {},
        ),
        (
            '{"rationale": "no verdict key here"}\nSo overall [[B]]',
            "second",
            "no verdict key here",
            {},
        ),
        (
            "B is better because it answers the question. [[B]]",
            "second",
            "B is better because it answers the question. [[B]]",
            {},
        ),
        ("I'm sorry, I can't do that.", "invalid", "I'm sorry, I can't do that.", {}),
        (
            '{"rationale": "list form", "criteria": [{"key": "a1", "verdict": "B"}],'
            ' "verdict": "Assistant B"}',
            "second",
            "list form",
            {"a1": "second"},
        ),
    ],
)
def test_parse_reasoned(text: str, verdict: str, rationale: str, criteria: dict[str, str]) -> None:
    assert parse_reasoned(text) == (verdict, rationale, criteria)


def test_extract_json_prefers_the_object_with_a_verdict_and_the_last_fence() -> None:
    text = (
        'Example format: {"rationale": "...", "verdict": "A"}\n'
        '```json\n{"note": 1}\n```\n'
        '```json\n{"rationale": "real", "verdict": "B"}\n```'
    )
    assert extract_json_object(text) == {"rationale": "real", "verdict": "B"}
    assert extract_json_object('{"note": 1} and no verdict') == {"note": 1}
    assert extract_json_object("no object at all") is None
    assert extract_json_object("{ broken: [ }") is None


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("A", "first"),
        (" A", "first"),
        ("A]]", "first"),
        ("B", "second"),
        ("C", "tie"),
        (" tie", "tie"),
        ("a", None),
        ("[[", None),
        ("The", None),
    ],
)
def test_verdict_token_class(token: str, expected: str | None) -> None:
    assert verdict_token_class(token) == expected


def _p(value: float) -> float:
    return math.log(value)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ([("A", _p(0.6)), ("B", _p(0.2)), ("The", _p(0.2))], 0.75),
        ([("B", _p(0.9)), ("A", _p(0.1))], 0.1),
        # Variants of one verdict add up: 0.3 + 0.3 for A against 0.2 for B.
        ([("A", _p(0.3)), (" A", _p(0.3)), ("B", _p(0.2))], 0.75),
        # Tie mass counts half for each side: (0.4 + 0.1) / 1.0.
        ([("A", _p(0.4)), ("B", _p(0.4)), ("C", _p(0.2))], 0.5),
        ([("A", _p(0.5)), ("B", _p(0.1)), ("C", _p(0.4))], (0.5 + 0.2) / 1.0),
        ([("C", _p(0.9))], 0.5),
        ([("A", _p(0.01))], 1.0),
        ([("A", -1000.0), ("B", -1001.0)], 1 / (1 + math.exp(-1))),
        ([("The", _p(0.9)), ("[[", _p(0.1))], None),
        ([], None),
        ([("A", -math.inf), ("B", -math.inf)], None),
    ],
)
def test_p_first_from_logprobs(top: list[tuple[str, float]], expected: float | None) -> None:
    result = p_first_from_logprobs(top)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)
