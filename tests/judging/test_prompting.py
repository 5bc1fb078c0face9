"""Rendering rubrics and pairs into judge messages: layout, order, templates, estimates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from apps.judging.prompting import (
    estimate_messages_tokens,
    estimate_tokens,
    fill_template,
    make_request,
    missing_placeholders,
    render_messages,
    render_prompt_text,
    shown_texts,
)
from apps.judging.types import Order, PairText
from apps.rubrics.spec import CriterionSpec, RubricSpec

RIPD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ripd-rubrics"

RUBRIC = RubricSpec(
    instructions="Judge as a careful reviewer of customer support answers.",
    criteria=(
        CriterionSpec(key="accuracy", title="Accuracy", description="Facts are right.", weight=3),
        CriterionSpec(
            key="no-pii",
            title="No personal data",
            description="Never reveal an email address.",
            weight=1.5,
            kind="hard_rule",
            check={"type": "forbidden_regex", "value": r"\S+@\S+"},
        ),
        CriterionSpec(key="tone", title="Tone", weight=0.5),
    ),
)
PAIR = PairText(prompt="Where is my parcel?", response_a="It ships today.", response_b="No idea.")
OTHER_PAIR = PairText(prompt="Cancel my order", response_a="Done.", response_b="Call us.")


def test_default_layout_puts_the_rubric_in_a_system_message_and_the_pair_last() -> None:
    messages = render_messages(RUBRIC, PAIR, "AB", mode="verdict")

    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert RUBRIC.instructions in system
    for criterion in RUBRIC.criteria:
        assert criterion.title in system
    assert PAIR.prompt not in system
    assert "1. Accuracy (weight 3)" in system
    assert "2. [HARD RULE] No personal data (weight 1.5)" in system
    assert "must not match the regular expression /\\S+@\\S+/" in system
    assert system.index("Accuracy") < system.index("No personal data") < system.index("Tone")
    assert user.index(PAIR.prompt) < user.index(PAIR.response_a) < user.index(PAIR.response_b)


def test_every_request_of_a_run_shares_the_system_prefix() -> None:
    rendered = [
        render_messages(RUBRIC, pair, order, mode="verdict")
        for pair in (PAIR, OTHER_PAIR)
        for order in ("AB", "BA")
    ]
    assert len({messages[0]["content"] for messages in rendered}) == 1
    assert len({messages[1]["content"] for messages in rendered}) == 4


@pytest.mark.parametrize(
    ("order", "first", "second"),
    [("AB", PAIR.response_a, PAIR.response_b), ("BA", PAIR.response_b, PAIR.response_a)],
)
def test_shown_order_decides_which_response_is_assistant_a(
    order: Order, first: str, second: str
) -> None:
    user = render_messages(RUBRIC, PAIR, order, mode="verdict")[1]["content"]

    assert shown_texts(PAIR, order) == (first, second)
    a_at = user.index("[Assistant A's response]")
    b_at = user.index("[Assistant B's response]")
    assert a_at < user.index(first) < b_at < user.index(second)


def test_unknown_order_or_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        shown_texts(PAIR, "AA")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        render_messages(RUBRIC, PAIR, "AB", mode="essay")  # type: ignore[arg-type]


def test_verdict_mode_asks_for_exactly_one_marker() -> None:
    system = render_messages(RUBRIC, PAIR, "AB", mode="verdict")[0]["content"]
    for marker in ("[[A]]", "[[B]]", "[[C]]"):
        assert marker in system
    assert "JSON" not in system


def test_reasoned_mode_asks_for_json_with_every_criterion_key() -> None:
    system = render_messages(RUBRIC, PAIR, "AB", mode="reasoned")[0]["content"]
    assert "JSON" in system
    for key in ("rationale", "criteria", "verdict", "accuracy", "no-pii", "tone"):
        assert f'"{key}"' in system


def test_mode_defaults_to_the_rubric_output_format() -> None:
    reasoned = RubricSpec(criteria=RUBRIC.criteria, output_format="reasoned")
    assert render_messages(reasoned, PAIR, "AB") == render_messages(
        reasoned, PAIR, "AB", mode="reasoned"
    )
    assert render_messages(reasoned, PAIR, "AB") != render_messages(
        reasoned, PAIR, "AB", mode="verdict"
    )


TEMPLATE = (
    "Judge the answers below.\n"
    "Question: {prompt}\n"
    "A: {response_a}\n"
    "B: {response_b}\n"
    'Reply as JSON like {"verdict": "A"} or with [[A]]/[[B]]; {not_a_placeholder} stays.'
)


def test_template_is_filled_in_shown_order_with_literal_braces_kept() -> None:
    ab = render_messages(RubricSpec(template=TEMPLATE), PAIR, "AB", mode="verdict")
    ba = render_messages(RubricSpec(template=TEMPLATE), PAIR, "BA", mode="verdict")

    assert [m["role"] for m in ab] == ["user"]
    assert ab[0]["content"] == (
        "Judge the answers below.\n"
        "Question: Where is my parcel?\n"
        "A: It ships today.\n"
        "B: No idea.\n"
        'Reply as JSON like {"verdict": "A"} or with [[A]]/[[B]]; {not_a_placeholder} stays.'
    )
    assert "A: No idea.\nB: It ships today." in ba[0]["content"]
    # The text before the first placeholder is the shared prefix of every request.
    assert ab[0]["content"].startswith("Judge the answers below.\nQuestion: ")


def test_placeholders_inside_the_pair_texts_are_not_substituted() -> None:
    sneaky = PairText(prompt="Say {response_b}", response_a="{prompt}", response_b="ok")
    filled = fill_template(
        "{prompt}|{response_a}|{response_b}",
        prompt=sneaky.prompt,
        first=sneaky.response_a,
        second=sneaky.response_b,
    )
    assert filled == "Say {response_b}|{prompt}|ok"


def test_template_in_reasoned_mode_gets_the_json_format_first() -> None:
    messages = render_messages(RubricSpec(template=TEMPLATE), PAIR, "AB", mode="reasoned")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "JSON" in messages[0]["content"]
    assert PAIR.prompt not in messages[0]["content"]


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("{prompt} {response_a} {response_b}", ()),
        ("{prompt} {response_a}", ("response_b",)),
        ("{question} {answer_a} {answer_b}", ("prompt", "response_a", "response_b")),
        ("{response_b} {response_a} {prompt} {prompt}", ()),
    ],
)
def test_missing_placeholders(template: str, missing: tuple[str, ...]) -> None:
    assert missing_placeholders(template) == missing


def test_template_without_a_response_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\{response_b\}"):
        render_messages(RubricSpec(template="{prompt} {response_a}"), PAIR, "AB")


def test_preview_text_is_the_messages_in_order() -> None:
    text = render_prompt_text(RUBRIC, PAIR, "BA", mode="verdict")
    messages = render_messages(RUBRIC, PAIR, "BA", mode="verdict")

    assert text.startswith("[system]\n")
    assert (
        text.index(messages[0]["content"])
        < text.index("[user]")
        < text.index(messages[1]["content"])
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("", 0), ("abc", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_estimate_tokens_is_four_characters_a_token(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


def test_message_estimate_adds_an_overhead_per_message() -> None:
    messages = render_messages(RUBRIC, PAIR, "AB", mode="verdict")
    contents = sum(math.ceil(len(m["content"]) / 4) for m in messages)
    assert estimate_messages_tokens(messages) > contents
    assert estimate_messages_tokens(messages[:1]) < estimate_messages_tokens(messages)


def test_make_request_carries_the_shown_texts_and_messages() -> None:
    request = make_request(key="7:BA", rubric=RUBRIC, pair=PAIR, order="BA", mode="verdict")

    assert (request.first, request.second) == (PAIR.response_b, PAIR.response_a)
    assert request.messages == render_messages(RUBRIC, PAIR, "BA", mode="verdict")
    assert (request.key, request.order, request.prompt) == ("7:BA", "BA", PAIR.prompt)


def test_real_ripd_templates_render_with_mapped_placeholders() -> None:
    if not RIPD.is_dir():
        pytest.skip("the shared RIPD rubric files are not present")
    rows = [
        json.loads(line)
        for path in sorted(RIPD.rglob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert rows
    for row in rows:
        template = (
            row["prompt"]
            .replace("{question}", "{prompt}")
            .replace("{instruction}", "{prompt}")
            .replace("{answer_a}", "{response_a}")
            .replace("{answer_b}", "{response_b}")
        )
        assert missing_placeholders(template) == ()
        content = render_messages(RubricSpec(template=template), PAIR, "BA", mode="verdict")[0][
            "content"
        ]
        assert (
            content.index(PAIR.prompt)
            < content.index(PAIR.response_b)
            < content.index(PAIR.response_a)
        )
        assert "{prompt}" not in content and "{response_a}" not in content
        assert "[[A]]" in content
