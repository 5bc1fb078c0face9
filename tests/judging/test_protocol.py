"""Both orders of a pair, their aggregation, and accuracy against the gold labels."""

from __future__ import annotations

import math

import pytest

from apps.judging.protocol import (
    AccuracyRow,
    accuracy_summary,
    aggregate_pair,
    criteria_to_pair,
    p_first_to_p_a,
    score,
    summarize,
    to_pair_verdict,
)


@pytest.mark.parametrize(
    ("shown", "order", "expected"),
    [
        ("first", "AB", "A"),
        ("second", "AB", "B"),
        ("first", "BA", "B"),
        ("second", "BA", "A"),
        ("tie", "AB", "tie"),
        ("tie", "BA", "tie"),
        ("invalid", "AB", "invalid"),
        ("invalid", "BA", "invalid"),
    ],
)
def test_to_pair_verdict(shown: str, order: str, expected: str) -> None:
    assert to_pair_verdict(shown, order) == expected  # type: ignore[arg-type]


def test_to_pair_verdict_refuses_unknown_values() -> None:
    with pytest.raises(ValueError):
        to_pair_verdict("first", "AA")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        to_pair_verdict("A", "AB")  # type: ignore[arg-type]


def test_p_first_of_the_ba_order_is_the_probability_that_b_is_better() -> None:
    assert p_first_to_p_a(0.8, "AB") == 0.8
    assert p_first_to_p_a(0.8, "BA") == pytest.approx(0.2)
    assert p_first_to_p_a(None, "BA") is None


def test_criteria_are_mapped_to_the_pair_and_junk_is_dropped() -> None:
    shown = {"accuracy": "first", "tone": "tie", "safety": "second", "odd": "A"}
    assert criteria_to_pair(shown, "BA") == {"accuracy": "B", "tone": "tie", "safety": "A"}
    assert criteria_to_pair(shown, "AB") == {"accuracy": "A", "tone": "tie", "safety": "B"}


# (verdict in order AB, verdict in order BA) -> (pair verdict, consistent), both orders already
# mapped to the pair's A/B.
AGGREGATION = [
    ("A", "A", "A", True),
    ("B", "B", "B", True),
    ("tie", "tie", "tie", True),
    ("A", "tie", "A", False),
    ("tie", "A", "A", False),
    ("B", "tie", "B", False),
    ("tie", "B", "B", False),
    ("A", "B", "tie", False),
    ("B", "A", "tie", False),
    ("invalid", "A", "invalid", False),
    ("B", "invalid", "invalid", False),
    ("invalid", "tie", "invalid", False),
    ("invalid", "invalid", "invalid", False),
]


@pytest.mark.parametrize(("ab", "ba", "verdict", "consistent"), AGGREGATION)
def test_aggregate_pair(ab: str, ba: str, verdict: str, consistent: bool) -> None:
    result = aggregate_pair(ab, ba)  # type: ignore[arg-type]
    assert (result.verdict, result.consistent, result.p_a) == (verdict, consistent, None)


def test_every_combination_of_two_orders_is_covered() -> None:
    covered = {(ab, ba) for ab, ba, _, _ in AGGREGATION}
    verdicts = ("A", "B", "tie", "invalid")
    for ab in verdicts:
        for ba in verdicts:
            result = aggregate_pair(ab, ba)  # type: ignore[arg-type]
            # The aggregation is symmetric in the two orders.
            assert result == aggregate_pair(ba, ab)  # type: ignore[arg-type]
            assert (ab, ba) in covered or (ba, ab) in covered


@pytest.mark.parametrize(
    ("p_ab", "p_ba", "expected"),
    [
        (0.9, 0.1, 0.9),  # AB: A better with 0.9; BA: B (shown first) better with 0.1
        (0.8, 0.6, 0.6),
        (0.5, 0.5, 0.5),
        (0.9, None, None),
        (None, 0.2, None),
    ],
)
def test_p_a_is_the_likelihood_average_of_both_orders(
    p_ab: float | None, p_ba: float | None, expected: float | None
) -> None:
    result = aggregate_pair("A", "A", p_ab, p_ba)
    if expected is None:
        assert result.p_a is None
    else:
        assert result.p_a == pytest.approx(expected)


@pytest.mark.parametrize(
    ("verdict", "gold", "expected"),
    [
        ("A", "A", 1.0),
        ("B", "B", 1.0),
        ("B", "A", 0.0),
        ("A", "B", 0.0),
        ("tie", "A", 0.5),
        ("tie", "B", 0.5),
        ("invalid", "A", 0.0),
        ("A", "tie", None),
        ("tie", "tie", None),
        ("A", None, None),
    ],
)
def test_score(verdict: str, gold: str | None, expected: float | None) -> None:
    assert score(verdict, gold) == expected


def _wilson(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out, to check the library call independently."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


ROWS = [
    AccuracyRow("helpfulness", "A", "A", True),
    AccuracyRow("helpfulness", "B", "B", True),
    AccuracyRow("helpfulness", "A", "tie", False),
    AccuracyRow("helpfulness", "B", "A", True),
    AccuracyRow("helpfulness", "tie", "A", True),
    ("harmlessness", "A", "invalid", False),
    ("harmlessness", "B", "B", True),
    ("harmlessness", "A", "A", False),
]


def test_accuracy_summary_overall_and_by_domain() -> None:
    summary = accuracy_summary(ROWS)

    helpful = summary["by_domain"]["helpfulness"]
    # Scored: 1 + 1 + 0.5 + 0 over 4 (the gold tie is left out).
    assert helpful["n"] == 4
    assert helpful["n_gold_tie"] == 1
    assert helpful["n_total"] == 5
    assert helpful["accuracy"] == pytest.approx(2.5 / 4)
    assert (helpful["ci_low"], helpful["ci_high"]) == pytest.approx(_wilson(2.5, 4))
    assert helpful["tie_rate"] == pytest.approx(1 / 5)
    assert helpful["invalid_rate"] == 0
    assert helpful["position_consistency"] == pytest.approx(4 / 5)

    harmless = summary["by_domain"]["harmlessness"]
    assert harmless["n"] == 3
    assert harmless["accuracy"] == pytest.approx(2 / 3)
    assert harmless["invalid_rate"] == pytest.approx(1 / 3)
    assert harmless["position_consistency"] == pytest.approx(1 / 3)

    overall = summary["overall"]
    assert overall["n"] == 7
    assert overall["accuracy"] == pytest.approx(4.5 / 7)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx(_wilson(4.5, 7))
    assert list(summary["by_domain"]) == ["harmlessness", "helpfulness"]


def test_summary_has_the_api_fields() -> None:
    fields = {
        "n",
        "accuracy",
        "ci_low",
        "ci_high",
        "tie_rate",
        "invalid_rate",
        "position_consistency",
        "n_gold_tie",
    }
    summary = accuracy_summary(ROWS)
    assert fields <= set(summary["overall"])
    for domain in summary["by_domain"].values():
        assert fields <= set(domain)


def test_a_group_of_only_gold_ties_has_no_accuracy() -> None:
    result = summarize([("d", "tie", "A", True), ("d", "tie", "tie", True)])
    assert (result["n"], result["n_gold_tie"], result["n_total"]) == (0, 2, 2)
    assert result["accuracy"] is None and result["ci_low"] is None and result["ci_high"] is None
    assert result["tie_rate"] == pytest.approx(0.5)


def test_empty_rows_give_an_empty_summary() -> None:
    summary = accuracy_summary([])
    assert summary["by_domain"] == {}
    assert summary["overall"]["n"] == 0
    assert summary["overall"]["accuracy"] is None
    assert summary["overall"]["tie_rate"] is None


def test_interval_stays_inside_zero_and_one() -> None:
    perfect = summarize([("d", "A", "A", True)] * 5)
    assert perfect["accuracy"] == 1.0
    assert 0.0 <= perfect["ci_low"] < 1.0
    assert perfect["ci_high"] == pytest.approx(1.0)
    worst = summarize([("d", "A", "B", True)] * 5)
    assert worst["ci_low"] == pytest.approx(0.0)
    assert 0.0 < worst["ci_high"] <= 1.0
