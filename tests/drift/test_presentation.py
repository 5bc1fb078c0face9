"""Pure helpers of the report pages: chart geometry, headlines, explanations, notes."""

from __future__ import annotations

import pytest

from apps.drift import explain
from apps.drift.charts import LABEL_CHARS, accuracy_chart
from apps.drift.stats import PairedOutcomes, compute_drift_report, flip_moves


def _scope(base: float | None, cand: float | None, ci: float = 0.05) -> dict[str, object]:
    def interval(value: float | None) -> list[float] | None:
        return None if value is None else [max(0.0, value - ci), min(1.0, value + ci)]

    return {
        "baseline_accuracy": base,
        "candidate_accuracy": cand,
        "baseline_ci": interval(base),
        "candidate_ci": interval(cand),
        "delta": None if base is None or cand is None else cand - base,
    }


def test_chart_bars_are_proportional_and_whiskers_span_the_interval() -> None:
    chart = accuracy_chart(
        {"b-domain": _scope(0.5, 0.25), "a-domain": _scope(1.0, 0.0, ci=0.0)},
        _scope(0.75, 0.5),
        flagged={"b-domain"},
    )
    span = chart.plot_right - chart.plot_left
    assert [g.name for g in chart.groups] == ["all pairs", "a-domain", "b-domain"]
    overall, a_domain, b_domain = chart.groups
    assert overall.overall and not a_domain.overall
    assert b_domain.flagged and not a_domain.flagged
    baseline, candidate = b_domain.bars
    assert baseline.width == pytest.approx(0.5 * span)
    assert candidate.width == pytest.approx(0.25 * span)
    assert baseline.whisker == pytest.approx(
        (chart.plot_left + 0.45 * span, chart.plot_left + 0.55 * span)
    )
    assert a_domain.bars[0].width == pytest.approx(span)
    assert a_domain.bars[1].width == 0
    assert b_domain.delta_text == "-25.0 pts"
    # Groups are stacked downwards without overlapping, inside the drawing.
    tops = [g.bars[0].y for g in chart.groups]
    assert tops == sorted(tops) and len(set(tops)) == 3
    assert chart.groups[-1].bars[1].bottom < chart.plot_bottom < chart.height
    assert [t.text for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]


def test_chart_handles_missing_values_and_long_names() -> None:
    name = "a-domain-name-much-longer-than-the-label-column"
    chart = accuracy_chart({name: _scope(None, None)})
    group = chart.groups[0]
    assert len(group.label) == LABEL_CHARS and group.label.endswith("…")
    assert group.name == name
    assert all(bar.width == 0 and bar.whisker is None for bar in group.bars)
    assert group.bars[0].text == explain.DASH


def test_headline_prefers_masked_drift_and_the_largest_drop() -> None:
    flags = [
        {"kind": "directional_shift", "message": "shift", "delta": None, "p": 0.001},
        {"kind": "domain_drift", "message": "code -3.0 pts", "delta": -0.03, "p": 0.01},
        {"kind": "masked_drift", "message": "small masked", "delta": -0.03, "p": 0.01},
        {"kind": "masked_drift", "message": "big masked", "delta": -0.10, "p": 0.02},
    ]
    assert explain.headline(flags) == "big masked"
    assert explain.headline(flags[:2]) == "code -3.0 pts"
    assert explain.headline([]) == "No flag"


def test_an_alert_headline_names_baseline_then_candidate() -> None:
    flags = [{"kind": "domain_drift", "message": "code -3.0 pts", "delta": -0.03, "p": 0.01}]
    line = explain.alert_headline(flags, baseline_number=1, candidate_number=3)
    assert line == "v1 → v3: code -3.0 pts"
    forked = explain.alert_headline(
        flags, baseline_number=2, candidate_number=5, lineage="forked from v4, blocked by alert 7"
    )
    assert forked == "v2 → v5: code -3.0 pts (forked from v4, blocked by alert 7)"


def test_flag_explanations_name_the_domain_and_numbers() -> None:
    overall = {"delta": -0.004}
    masked = {"kind": "masked_drift", "domain": "harmlessness", "delta": -0.098, "p": 0.003}
    text = explain.explain_flag(masked, overall)
    assert "harmlessness" in text and "-9.8 pts" in text and "-0.4 pts" in text
    assert "p=0.003" in text
    shift = {"kind": "directional_shift", "domain": None, "direction": "toward_refusal", "p": 1e-5}
    assert "the refusing response" in explain.explain_flag(shift, overall)
    assert "all pairs" in explain.explain_flag(shift, overall)


def test_direction_sentence_words_the_majority_side() -> None:
    toward_shorter = {"share": 17 / 78, "n": 78, "p": 0.0000004}
    assert (
        explain.direction_sentence("toward_longer", toward_shorter)
        == "61 of 78 flips moved toward the shorter response, p<0.001"
    )
    toward_a = {"share": 0.75, "n": 20, "p": 0.041}
    assert explain.direction_sentence("toward_position_a", toward_a) == (
        "15 of 20 flips moved toward A, p=0.041"
    )
    assert explain.direction_sentence("toward_refusal", {"share": None, "n": 0, "p": None})


def test_power_note_only_for_scopes_too_small_for_the_guard() -> None:
    assert explain.power_note(12, 0.31, 0.02) == "n=12: drops smaller than 31 pts could go unseen"
    assert explain.power_note(5000, 0.015, 0.02) is None
    assert explain.power_note(3, None, 0.02) == "n=3: too few pairs to detect any drop"
    assert explain.power_note(0, None, 0.02) is None


def test_flip_moves_agree_with_the_report_direction_tests() -> None:
    rows = [
        # (baseline, candidate, len a, len b, refuses a, refuses b)
        ("A", "B", 10, 50, False, True),
        ("B", "A", 90, 10, True, False),
        ("A", "tie", 10, 80, False, False),
        ("tie", "B", 40, 10, True, False),
        ("A", "A", 10, 10, False, False),
        ("invalid", "A", 10, 90, False, False),
        ("B", "A", 30, 30, False, False),
    ]
    outcomes = PairedOutcomes.from_lists(
        domain=["d"] * len(rows),
        gold=["A"] * len(rows),
        baseline=[r[0] for r in rows],
        candidate=[r[1] for r in rows],
        length_a=[r[2] for r in rows],
        length_b=[r[3] for r in rows],
        refuses_a=[r[4] for r in rows],
        refuses_b=[r[5] for r in rows],
    )
    report = compute_drift_report(outcomes, n_bootstrap=10)
    moves = [
        flip_moves(b, c, length_a=la, length_b=lb, refuses_a=ra, refuses_b=rb)
        for b, c, la, lb, ra, rb in rows
    ]
    for key, test in report["overall"]["direction"].items():
        counted = [m[key] for m in moves if m[key] != 0]
        assert len(counted) == test["n"], key
        if counted:
            assert sum(1 for m in counted if m > 0) / len(counted) == pytest.approx(test["share"])
    assert moves[4] == {"toward_longer": 0, "toward_refusal": 0, "toward_position_a": 0}
    assert moves[5]["toward_position_a"] == 0  # from invalid: no direction
    with pytest.raises(ValueError):
        flip_moves("A", "maybe", length_a=1, length_b=2, refuses_a=False, refuses_b=False)
