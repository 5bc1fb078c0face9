"""The flip list of a report, without a database: which way a flip went against the gold label,
the filters of the flipped pairs table and the forest plot's geometry."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict

from apps.drift.forest import FOREST_LABEL_WIDTH, FOREST_RIGHT, FOREST_WIDTH, forest_chart
from apps.drift.forms import FlipFilterForm
from apps.drift.selectors import (
    CORRECTION,
    OTHER,
    REGRESSION,
    filter_flips,
    flip_direction,
    verdict_score,
)


def _flip(gold: str, baseline: str, candidate: str, **extra: Any) -> dict[str, Any]:
    return {"gold": gold, "baseline": baseline, "candidate": candidate, **extra}


@pytest.mark.parametrize(
    ("gold", "baseline", "candidate", "expected"),
    [
        ("A", "A", "B", REGRESSION),  # right to wrong
        ("A", "A", "tie", REGRESSION),  # right to half right
        ("B", "tie", "A", REGRESSION),  # half right to wrong
        ("A", "B", "A", CORRECTION),  # wrong to right
        ("A", "tie", "A", CORRECTION),
        ("B", "invalid", "B", CORRECTION),
        ("A", "B", "invalid", OTHER),  # wrong either way
        ("tie", "A", "B", OTHER),  # a gold tie is not scored
        ("tie", "B", "tie", OTHER),
    ],
)
def test_a_flip_is_a_regression_a_correction_or_other(
    gold: str, baseline: str, candidate: str, expected: str
) -> None:
    assert flip_direction(_flip(gold, baseline, candidate)) == expected


def test_verdict_scores_follow_the_report_accuracy() -> None:
    assert [verdict_score(v, "A") for v in ("A", "tie", "B", "invalid")] == [1.0, 0.5, 0.0, 0.0]
    assert verdict_score("A", "tie") is None


FLIPS = [
    _flip("A", "A", "B", pair_id=1, domain="safety", moves={"toward_longer": 1}),
    _flip("A", "B", "A", pair_id=2, domain="safety", moves={"toward_longer": -1}),
    _flip("A", "A", "B", pair_id=3, domain="code", moves={"toward_longer": 0}),
    _flip("tie", "A", "B", pair_id=4, domain="code", moves={"toward_longer": 1}),
]


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["pair_id"] for row in rows]


def test_flips_filter_by_domain_direction_and_move() -> None:
    assert _ids(filter_flips(FLIPS)) == [1, 2, 3, 4]
    assert _ids(filter_flips(FLIPS, domain="safety")) == [1, 2]
    assert _ids(filter_flips(FLIPS, direction=REGRESSION)) == [1, 3]
    assert _ids(filter_flips(FLIPS, direction=CORRECTION)) == [2]
    assert _ids(filter_flips(FLIPS, direction=OTHER)) == [4]
    assert _ids(filter_flips(FLIPS, domain="code", direction=REGRESSION)) == [3]
    assert _ids(filter_flips(FLIPS, moves="longer")) == [1, 4]
    assert _ids(filter_flips(FLIPS, moves="shorter", domain="safety")) == [2]
    # Each row says which way it went; an unknown key filters nothing.
    assert [row["direction"] for row in filter_flips(FLIPS)] == [
        REGRESSION,
        CORRECTION,
        REGRESSION,
        OTHER,
    ]
    assert _ids(filter_flips(FLIPS, direction="sideways", moves="up")) == [1, 2, 3, 4]


def test_the_filter_form_ignores_what_it_does_not_offer() -> None:
    form = FlipFilterForm(
        QueryDict("domain=safety&direction=sideways&moves=longer"), domains=["code", "safety"]
    )
    assert (form.value("domain"), form.value("direction"), form.value("moves")) == (
        "safety",
        "",
        "longer",
    )
    unknown = FlipFilterForm(QueryDict("domain=elsewhere"), domains=["code"])
    assert unknown.value("domain") == ""
    assert FlipFilterForm(None, domains=["code"]).value("domain") == ""
    assert 'id="filter-direction"' in str(form["direction"])


def _scope(delta: float | None, low: float | None, high: float | None) -> dict[str, Any]:
    return {"delta": delta, "delta_ci": [low, high] if low is not None else None}


def test_forest_plot_centres_zero_and_draws_each_interval() -> None:
    chart = forest_chart(
        {"safety": _scope(-0.30, -0.38, -0.21), "code": _scope(0.02, -0.01, 0.05)},
        _scope(-0.14, -0.19, -0.09),
        flagged={"safety"},
        min_effect=0.02,
    )
    left, right = float(FOREST_LABEL_WIDTH), float(FOREST_WIDTH - FOREST_RIGHT)
    assert chart.zero_x == pytest.approx((left + right) / 2)
    # The axis is symmetric and reaches past the largest bound, in steps of 5 points.
    span = 0.40
    assert [t.text for t in chart.ticks] == ["\u221240", "\u221220", "0", "+20", "+40"]

    def x_of(value: float) -> float:
        return left + (value + span) / (2 * span) * (right - left)

    names = [row.name for row in chart.rows]
    assert names == ["all pairs", "code", "safety"]
    safety = chart.rows[2]
    assert safety.flagged and not chart.rows[1].flagged and chart.rows[0].overall
    assert safety.x == pytest.approx(x_of(-0.30), abs=0.01)
    low, high = safety.interval or (0.0, 0.0)
    assert (low, high) == (
        pytest.approx(x_of(-0.38), abs=0.01),
        pytest.approx(x_of(-0.21), abs=0.01),
    )
    assert safety.text == "\u221230.0 (\u221238.0 to \u221221.0)"
    assert chart.threshold_x == pytest.approx(x_of(-0.02), abs=0.01)
    # Rows go down the page, one per scope, inside the plot.
    ys = [row.y for row in chart.rows]
    assert ys == sorted(ys) and chart.plot_top < ys[0] and ys[-1] < chart.plot_bottom


def test_forest_plot_without_an_estimate_or_interval() -> None:
    chart = forest_chart({"tiny": _scope(None, None, None), "small": _scope(0.01, None, None)})
    tiny = next(row for row in chart.rows if row.name == "tiny")
    small = next(row for row in chart.rows if row.name == "small")
    assert tiny.x is None and tiny.square is None and tiny.text == "\u2013"
    assert small.interval is None and small.text == "+1.0"
    assert chart.threshold_x is None
    # At least 5 points either side of zero, so a small change is not drawn as a large one.
    assert [t.text for t in chart.ticks] == ["\u22125", "0", "+5"]
