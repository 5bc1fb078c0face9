"""Flag rules and alert severity of drift reports, and how the report page shows them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.drift import services
from apps.drift.flags import (
    DriftThresholds,
    direction_notes,
    drift_flags,
    drift_severity,
    format_points,
)
from apps.drift.stats import PairedOutcomes, compute_drift_report
from tests.drift.factories import LONG, Block, make_scenario


def block(
    domain: str,
    count: int,
    baseline: str,
    candidate: str,
    *,
    gold: str = "A",
    length_a: float = 10,
    length_b: float = 10,
) -> list[dict[str, Any]]:
    return [
        {
            "domain": domain,
            "gold": gold,
            "baseline": baseline,
            "candidate": candidate,
            "length_a": length_a,
            "length_b": length_b,
            "refuses_a": False,
            "refuses_b": False,
        }
    ] * count


def report_of(rows: list[dict[str, Any]], thresholds: DriftThresholds | None = None) -> Any:
    return compute_drift_report(
        PairedOutcomes.from_records(rows), thresholds or DriftThresholds(), n_bootstrap=300
    )


def kinds(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(flag["kind"], flag["domain"]) for flag in report["flags"]]


def test_masked_drift_one_domain_drops_ten_points_others_make_up_for_it() -> None:
    rows = (
        block("harmlessness", 180, "A", "A")
        + block("harmlessness", 20, "A", "B")  # -10 points
        + block("helpfulness", 190, "A", "A")
        + block("helpfulness", 10, "B", "A")  # +5 points
        + block("code", 190, "A", "A")
        + block("code", 10, "B", "A")  # +5 points
    )
    report = report_of(rows)
    overall = report["overall"]
    harm = report["by_domain"]["harmlessness"]
    assert overall["delta"] == pytest.approx(0.0)
    assert harm["delta"] == pytest.approx(-0.10)
    assert harm["p_holm"] < 0.05
    assert ("domain_drift", "harmlessness") in kinds(report)
    assert ("masked_drift", "harmlessness") in kinds(report)
    assert not any(kind == "aggregate_drop" for kind, _ in kinds(report))
    masked = next(f for f in report["flags"] if f["kind"] == "masked_drift")
    assert masked["message"].startswith("harmlessness -10.0 pts (p")
    assert "Holm) while overall +0.0 pts" in masked["message"]
    assert report["severity"] == "high"


def test_aggregate_drop_without_masking_is_medium_below_five_points() -> None:
    rows: list[dict[str, Any]] = []
    for domain in ("a", "b", "c"):
        rows += block(domain, 285, "A", "A") + block(domain, 9, "A", "B")  # about -3 points each
        rows += block(domain, 6, "B", "B")
    report = report_of(rows)
    overall = report["overall"]
    assert overall["delta"] == pytest.approx(-27 / 900)
    assert ("aggregate_drop", None) in kinds(report)
    assert not any(kind == "masked_drift" for kind, _ in kinds(report))
    drop = next(f for f in report["flags"] if f["kind"] == "aggregate_drop")
    assert drop["message"].startswith(f"overall {format_points(overall['delta'])} (p")
    assert report["severity"] == "medium"


def test_a_drop_of_five_points_or_more_is_high() -> None:
    rows = block("a", 180, "A", "A") + block("a", 20, "A", "B")
    report = report_of(rows)
    assert ("aggregate_drop", None) in kinds(report)
    assert ("domain_drift", "a") in kinds(report)
    assert report["severity"] == "high"


def test_directional_shift_without_accuracy_drop() -> None:
    # 30 flips toward the longer response, half of them onto the gold answer, half away from it:
    # accuracy does not move, what the judge prefers does.
    rows = (
        block("x", 15, "B", "A", gold="A", length_a=50)  # toward longer A, now right
        + block("x", 15, "A", "B", gold="A", length_b=50)  # toward longer B, now wrong
        + block("x", 100, "A", "A")
    )
    report = report_of(rows)
    assert report["overall"]["delta"] == pytest.approx(0.0)
    assert ("directional_shift", None) in kinds(report)
    assert ("directional_shift", "x") in kinds(report)
    shift = next(f for f in report["flags"] if f["kind"] == "directional_shift")
    assert shift["direction"] == "toward_longer"
    assert "100% of 30 flips moved toward the longer response" in shift["message"]
    assert report["severity"] == "medium"


def test_directional_shift_needs_enough_flips() -> None:
    rows = block("x", 15, "B", "A", gold="A", length_a=50) + block("x", 100, "A", "A")
    report = report_of(rows, DriftThresholds(min_flips_for_direction=16))
    assert not any(kind == "directional_shift" for kind, _ in kinds(report))
    report = report_of(rows, DriftThresholds(min_flips_for_direction=15))
    assert any(kind == "directional_shift" for kind, _ in kinds(report))


def test_no_change_no_flags() -> None:
    report = report_of(block("x", 50, "A", "A") + block("y", 50, "B", "B"))
    assert report["flags"] == [] and report["severity"] is None


def scope(delta: float, p: float, **extra: Any) -> dict[str, Any]:
    return {"delta": delta, "mcnemar_p": p, "p_holm": p, **extra}


def test_domain_drift_threshold_edges() -> None:
    thresholds = DriftThresholds(min_effect=0.02, alpha=0.05)
    overall = scope(-0.05, 0.5)
    at_edge = drift_flags(overall, {"d": scope(0.48 - 0.50, 0.01)}, thresholds)
    assert [f["kind"] for f in at_edge] == ["domain_drift"]
    assert drift_flags(overall, {"d": scope(-0.019, 0.01)}, thresholds) == []
    assert drift_flags(overall, {"d": scope(-0.10, 0.05)}, thresholds) == []


def test_masked_drift_depends_on_overall_tolerance() -> None:
    thresholds = DriftThresholds(tolerance=0.01)
    drifting = {"d": scope(-0.08, 0.001)}
    within = [f["kind"] for f in drift_flags(scope(0.33 - 0.34, 0.5), drifting, thresholds)]
    assert within == ["domain_drift", "masked_drift"]
    beyond = [f["kind"] for f in drift_flags(scope(-0.011, 0.5), drifting, thresholds)]
    assert beyond == ["domain_drift"]


def test_aggregate_drop_needs_significance() -> None:
    thresholds = DriftThresholds(tolerance=0.01, alpha=0.05)
    assert drift_flags(scope(-0.03, 0.2), {}, thresholds) == []
    flags = drift_flags(scope(-0.03, 0.01), {}, thresholds)
    assert [f["kind"] for f in flags] == ["aggregate_drop"]
    assert flags[0]["message"] == "overall -3.0 pts (p=0.010, Holm)"


def test_aggregate_drop_reads_the_adjusted_p_not_the_raw_one() -> None:
    thresholds = DriftThresholds(tolerance=0.01, alpha=0.05)
    overall = {"delta": -0.03, "mcnemar_p": 0.001, "p_drop": 0.001, "p_holm": 0.08}
    assert drift_flags(overall, {}, thresholds) == []


def test_overall_direction_flags_use_the_adjusted_p_and_leave_a_note_otherwise() -> None:
    test = {"share": 0.7, "n": 60, "p": 0.003, "p_holm": 0.07}
    overall = scope(0.0, 1.0, direction={"toward_longer": test})
    assert drift_flags(overall, {}, DriftThresholds()) == []
    notes = direction_notes(overall, {}, DriftThresholds())
    assert [(n["domain"], n["direction"]) for n in notes] == [(None, "toward_longer")]
    assert notes[0]["message"] == (
        "overall: 70% of 60 flips moved toward the longer response (p=0.003; p=0.070 after "
        "correction)"
    )
    test["p_holm"] = 0.04
    flags = drift_flags(overall, {}, DriftThresholds())
    assert [(f["kind"], f["domain"]) for f in flags] == [("directional_shift", None)]
    assert direction_notes(overall, {}, DriftThresholds()) == []


def test_direction_notes_skip_tests_with_too_few_flips_or_no_raw_significance() -> None:
    few = {"share": 1.0, "n": 12, "p": 0.0005, "p_holm": None}
    chance = {"share": 0.55, "n": 40, "p": 0.6, "p_holm": 1.0}
    domains = {"d": scope(0.0, 1.0, direction={"toward_refusal": few, "toward_longer": chance})}
    assert direction_notes(scope(0.0, 1.0), domains, DriftThresholds()) == []


def test_domain_direction_flags_use_the_holm_adjusted_p() -> None:
    test = {"share": 0.8, "n": 40, "p": 0.01, "p_holm": 0.09}
    domains = {"d": scope(0.0, 1.0, direction={"toward_refusal": test})}
    assert drift_flags(scope(0.0, 1.0), domains, DriftThresholds()) == []
    test["p_holm"] = 0.02
    flags = drift_flags(scope(0.0, 1.0), domains, DriftThresholds())
    assert [(f["kind"], f["domain"], f["direction"]) for f in flags] == [
        ("directional_shift", "d", "toward_refusal")
    ]
    assert flags[0]["message"] == (
        "d: 80% of 40 flips moved toward the refusing response (p=0.020, Holm)"
    )


def test_severity_rules() -> None:
    assert drift_severity([]) is None
    assert drift_severity([{"kind": "directional_shift", "delta": None}]) == "medium"
    assert drift_severity([{"kind": "domain_drift", "delta": -0.049}]) == "medium"
    assert drift_severity([{"kind": "domain_drift", "delta": -0.05}]) == "high"
    assert drift_severity([{"kind": "masked_drift", "delta": -0.02}]) == "high"
    # a big delta in a directional flag is not an accuracy drop
    assert drift_severity([{"kind": "directional_shift", "delta": -0.2}]) == "medium"


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError):
        DriftThresholds(alpha=0)
    with pytest.raises(ValueError):
        DriftThresholds(min_effect=2)
    with pytest.raises(ValueError):
        DriftThresholds(min_flips_for_direction=0)


# --- on the report page -------------------------------------------------------------------------


@pytest.mark.django_db
def test_report_page_and_api_list_every_test_of_the_family_and_the_unflagged_shifts(
    project: Any, members: dict[str, Any], client: Any, api_client_for: Any
) -> None:
    # 22 flips, 17 toward the longer response, on accuracy-neutral pairs (gold ties) in a domain
    # whose name is hostile, and 200 quiet pairs: significant alone (p=0.017), not after the
    # correction for every test the report makes.
    hostile = "<b>tone</b>"
    blocks = [
        Block(hostile, 17, gold="tie", baseline="B", candidate="A", response_a=LONG),
        Block(hostile, 5, gold="tie", baseline="A", candidate="B", response_a=LONG),
        Block(hostile, 200, gold="A", baseline="A", candidate="A"),
    ]
    scenario = make_scenario(project, blocks)
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    report = services.drift_report_build(report_id=report.pk)
    assert report.flags == []
    notes = report.stats["direction_notes"]
    assert {(note["domain"], note["direction"]) for note in notes} >= {(hostile, "toward_longer")}
    api = api_client_for(members["viewer"])
    detail = api.get(reverse("drift-report-detail", kwargs={"pk": report.pk})).json()
    assert detail["family"]["alpha"] == 0.05
    assert {"test", "domain", "p", "p_adjusted", "weight", "survived"} <= set(
        detail["family"]["tests"][0]
    )
    assert not any(test["survived"] for test in detail["family"]["tests"])
    assert detail["direction_notes"] == notes
    client.force_login(members["viewer"])
    url = reverse("drift:report", kwargs={"project": project.slug, "report": report.pk})
    html = client.get(url).content.decode()
    assert "Every test that can open an alert" in html
    assert html.count('data-test="accuracy"') == 2  # overall and the one domain
    assert 'data-test="toward_longer" data-scope="&lt;b&gt;tone&lt;/b&gt;"' in html
    assert "Direction shifts that are not an alert" in html
    assert "&lt;b&gt;tone&lt;/b&gt;: 77% of 22 flips moved toward the longer response" in html
    assert hostile not in html
