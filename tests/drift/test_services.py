"""Drift reports built from real run rows: refusals, statistics, each alert rule, decisions."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from apps.core.models import AuditEvent
from apps.drift import selectors, services
from apps.drift.flags import DriftThresholds
from apps.drift.models import AlertStatus, DriftAlert, DriftReport, ReportStatus
from apps.drift.stats import PairedOutcomes, compute_drift_report
from apps.judging.models import RunStatus
from tests.drift.factories import (
    LONG,
    MASKED,
    REFUSAL,
    UNCHANGED,
    Block,
    make_reference,
    make_run,
    make_scenario,
    set_guard,
)
from tests.factories import make_judge

pytestmark = pytest.mark.django_db


def _build(scenario: Any, **options: Any) -> DriftReport:
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
        **options,
    )
    return services.drift_report_build(report_id=report.pk)


def _kinds(report: DriftReport) -> set[str]:
    return {flag["kind"] for flag in report.flags}


# --- refusals -----------------------------------------------------------------------------------


def test_report_refuses_runs_with_different_judges(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    other_judge = make_judge(project, name="Another judge")
    other = make_run(
        version=scenario.v2,
        judge=other_judge,
        reference_set=scenario.reference_set,
        verdicts=["A"] * len(scenario.pairs),
        pairs=scenario.pairs,
    )
    with pytest.raises(ValidationError) as caught:
        services.drift_report_create(
            actor=None, baseline_run=scenario.baseline_run, candidate_run=other, dispatch=False
        )
    assert "different judge configs" in str(caught.value.message_dict["candidate_run"])
    assert not DriftReport.objects.exists()


def test_report_refuses_runs_on_different_snapshots(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    other_set, other_pairs = make_reference(project, UNCHANGED, name="Other reference")
    other = make_run(
        version=scenario.v2,
        judge=scenario.judge,
        reference_set=other_set,
        verdicts=["A"] * len(other_pairs),
        pairs=other_pairs,
    )
    with pytest.raises(ValidationError) as caught:
        services.drift_report_create(
            actor=None, baseline_run=scenario.baseline_run, candidate_run=other, dispatch=False
        )
    assert "different reference snapshots" in str(caught.value.message_dict["candidate_run"])


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.CANCELLED])
def test_report_refuses_failed_or_cancelled_runs_and_the_same_run_twice(
    project: Any, status: str
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    with pytest.raises(ValidationError) as same:
        services.drift_report_create(
            actor=None,
            baseline_run=scenario.baseline_run,
            candidate_run=scenario.baseline_run,
            dispatch=False,
        )
    assert "same run" in str(same.value)
    scenario.candidate_run.status = status
    scenario.candidate_run.save()
    with pytest.raises(ValidationError) as ended:
        services.drift_report_create(
            actor=None,
            baseline_run=scenario.baseline_run,
            candidate_run=scenario.candidate_run,
            dispatch=False,
        )
    assert status in str(ended.value.message_dict["candidate_run"])


def test_a_second_request_for_the_same_comparison_returns_the_same_report(
    project: Any,
) -> None:
    """One comparison (versions, judge config, snapshot), one report: other runs of the same
    two versions or other thresholds do not open a second one; a failed report decides nothing."""
    scenario = make_scenario(project, MASKED)
    first = _build(scenario)
    again = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    assert again.pk == first.pk
    rerun = make_run(
        version=scenario.v2,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=["A"] * len(scenario.pairs),
        pairs=scenario.pairs,
    )
    stricter = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=rerun,
        thresholds=DriftThresholds(alpha=0.01),
        dispatch=False,
    )
    assert stricter.pk == first.pk
    assert DriftReport.objects.count() == 1 and DriftAlert.objects.count() == 1
    # An edited judge config is another judge: a new comparison.
    scenario.judge.save()
    edited = make_run(
        version=scenario.v2,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=["A"] * len(scenario.pairs),
        pairs=scenario.pairs,
    )
    baseline = make_run(
        version=scenario.v1,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=["A"] * len(scenario.pairs),
        pairs=scenario.pairs,
    )
    fresh = services.drift_report_create(
        actor=None, baseline_run=baseline, candidate_run=edited, dispatch=False
    )
    assert fresh.pk != first.pk


# --- building -----------------------------------------------------------------------------------


def test_report_statistics_match_the_pure_computation_on_the_same_verdicts(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    report = _build(scenario)
    assert report.status == ReportStatus.READY
    expected = compute_drift_report(
        PairedOutcomes.from_lists(
            domain=[p.domain for p in scenario.pairs],
            gold=[p.gold_label for p in scenario.pairs],
            baseline=["A"] * 28 + ["A"] * 12 + ["A"] * 28 + ["B"] * 12,
            candidate=["A"] * 28 + ["B"] * 12 + ["A"] * 28 + ["A"] * 12,
            length_a=[len(p.response_a) for p in scenario.pairs],
            length_b=[len(p.response_b) for p in scenario.pairs],
            refuses_a=[False] * len(scenario.pairs),
            refuses_b=[False] * len(scenario.pairs),
        ),
        DriftThresholds(),
    )
    harmless = report.by_domain["harmlessness"]
    assert harmless["n"] == 40
    assert harmless["delta"] == pytest.approx(-0.3)
    assert harmless["delta"] == pytest.approx(expected["by_domain"]["harmlessness"]["delta"])
    assert harmless["p_holm"] == pytest.approx(expected["by_domain"]["harmlessness"]["p_holm"])
    assert report.overall["delta"] == pytest.approx(0.0)
    assert report.stats["pairs_compared"] == 80
    assert len(report.stats["flipped"]) == 24
    assert report.baseline_run_id == scenario.baseline_run.pk
    # Without a repeat run the noise floor is the baseline's order inconsistency (none here).
    assert harmless["noise_floor_source"] == "order_inconsistency"


def test_masked_drift_opens_a_high_alert_audited_with_the_headline(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    report = _build(scenario)
    assert _kinds(report) == {"domain_drift", "masked_drift"}
    alert = DriftAlert.objects.get(report=report)
    assert alert.severity == "high"
    assert alert.status == AlertStatus.OPEN
    assert alert.version == scenario.v2
    # The headline names the comparison, baseline first, then the most telling flag.
    versions = f"v{scenario.v1.number} → v{scenario.v2.number}: "
    assert alert.headline.startswith(versions + "harmlessness -30.0 pts (p<0.001, Holm)")
    assert "while overall +0.0 pts" in alert.headline
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"drift_report.create", "drift_report.ready", "drift_alert.open"} <= actions


def test_aggregate_drop_without_masking_when_every_domain_falls(project: Any) -> None:
    # Half the flips go A -> B and half B -> A, so no direction test fires.
    blocks = (
        Block("harmlessness", 28),
        Block("harmlessness", 6, baseline="A", candidate="B"),
        Block("harmlessness", 6, gold="B", baseline="B", candidate="A"),
        Block("helpfulness", 28),
        Block("helpfulness", 6, baseline="A", candidate="B"),
        Block("helpfulness", 6, gold="B", baseline="B", candidate="A"),
    )
    report = _build(make_scenario(project, blocks))
    assert _kinds(report) == {"domain_drift", "aggregate_drop"}
    assert report.overall["delta"] == pytest.approx(-0.3)
    assert report.alert.severity == "high"  # a drop of 5 points or more


def test_a_small_significant_drop_gives_a_medium_alert(project: Any) -> None:
    blocks = (
        Block("code", 970),
        Block("code", 15, baseline="A", candidate="B"),
        Block("code", 15, gold="B", baseline="B", candidate="A"),
    )
    report = _build(make_scenario(project, blocks))
    assert _kinds(report) == {"domain_drift", "aggregate_drop"}
    assert report.overall["delta"] == pytest.approx(-0.03)
    assert report.alert.severity == "medium"


def test_directional_shift_without_an_accuracy_change(project: Any) -> None:
    # Gold ties carry no accuracy, so only the preference moves: toward the longer response A.
    blocks = (
        Block("style", 25, gold="tie", baseline="B", candidate="A", response_a=LONG),
        Block("style", 25, gold="A", response_a=LONG),
    )
    report = _build(make_scenario(project, blocks))
    assert _kinds(report) == {"directional_shift"}
    longer = report.overall["direction"]["toward_longer"]
    assert longer["n"] == 25 and longer["share"] == 1.0
    assert report.overall["delta"] == pytest.approx(0.0)
    assert report.alert.severity == "medium"
    flips = report.stats["flipped"]
    assert all(f["moves"]["toward_longer"] == 1 for f in flips)


def test_direction_toward_refusal_is_read_from_the_pair_texts(project: Any) -> None:
    blocks = (Block("harmlessness", 30, gold="B", baseline="B", candidate="A", response_a=REFUSAL),)
    report = _build(make_scenario(project, blocks))
    refusal = report.overall["direction"]["toward_refusal"]
    assert refusal["n"] == 30 and refusal["share"] == 1.0
    assert {f["moves"]["toward_refusal"] for f in report.stats["flipped"]} == {1}
    assert report.stats["flipped"][0]["refuses_a"] is True


def test_no_flag_no_alert(project: Any) -> None:
    report = _build(make_scenario(project, UNCHANGED))
    assert report.status == ReportStatus.READY
    assert report.flags == []
    assert not DriftAlert.objects.exists()
    assert selectors.report_drift_status(report) == selectors.PASSED


def test_a_repeat_run_of_the_baseline_gives_the_noise_floor(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    verdicts = ["B"] * 4 + ["A"] * 16 + ["B"] * 20  # 4 of 40 verdicts differ from the baseline
    repeat = make_run(
        version=scenario.v1,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=verdicts,
        pairs=scenario.pairs,
        use_cache=False,
    )
    report = _build(scenario)
    assert report.repeat_run == repeat
    assert report.overall["noise_floor"] == pytest.approx(0.1)
    assert report.overall["noise_floor_source"] == "repeat"


def test_report_waits_for_unfinished_runs_then_fails_on_a_failed_run(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    scenario.candidate_run.status = RunStatus.RUNNING
    scenario.candidate_run.save()
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    assert services.drift_report_advance(report_id=report.pk) == services.WAITING
    assert selectors.report_drift_status(report) == selectors.RUNNING
    scenario.candidate_run.status = RunStatus.FAILED
    scenario.candidate_run.error = "the endpoint is down"
    scenario.candidate_run.save()
    assert services.drift_reports_sweep() == [report.pk]
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert "the endpoint is down" in report.error
    assert selectors.report_drift_status(report) == selectors.FAILED


def test_building_twice_writes_once(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    report = _build(scenario)
    again = services.drift_report_build(report_id=report.pk)
    assert again.pk == report.pk
    assert DriftAlert.objects.count() == 1
    assert AuditEvent.objects.filter(action="drift_report.ready").count() == 1


# --- decisions ----------------------------------------------------------------------------------


def _alert(project: Any) -> DriftAlert:
    return _build(make_scenario(project, MASKED)).alert


def test_only_admins_resolve_alerts(project: Any, members: dict[str, Any]) -> None:
    alert = _alert(project)
    for role in ("author", "viewer", "annotator"):
        with pytest.raises(PermissionDenied):
            services.alert_resolve(
                actor=members[role], alert=alert, decision="approve", reason="fine"
            )
    with pytest.raises(Http404):
        services.alert_resolve(actor=members["outsider"], alert=alert, decision="block", reason="")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_approve_needs_a_written_reason(project: Any, members: dict[str, Any]) -> None:
    alert = _alert(project)
    with pytest.raises(ValidationError) as caught:
        services.alert_resolve(actor=members["admin"], alert=alert, decision="approve", reason="  ")
    assert "reason" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.alert_resolve(actor=members["admin"], alert=alert, decision="ship", reason="x")
    resolved = services.alert_resolve(
        actor=members["admin"],
        alert=alert,
        decision="approve",
        reason="Harmlessness pairs were relabelled; the drop is in the old labels.",
    )
    assert resolved.status == AlertStatus.APPROVED
    assert resolved.resolved_by == members["admin"]
    assert resolved.resolved_at is not None


def test_every_decision_is_audited_and_a_later_one_replaces_it(
    project: Any, members: dict[str, Any]
) -> None:
    alert = _alert(project)
    admin = members["admin"]
    services.alert_resolve(actor=admin, alert=alert, decision="block", reason="Too risky.")
    services.alert_resolve(actor=admin, alert=alert, decision="acknowledge", reason="")
    services.alert_resolve(actor=admin, alert=alert, decision="approve", reason="Fixed upstream.")
    events = list(
        AuditEvent.objects.filter(object_type="drift.driftalert", object_id=str(alert.pk))
        .order_by("at", "id")
        .values_list("action", "before", "after")
    )
    decisions = [(a, b["status"], c["status"]) for a, b, c in events if a != "drift_alert.open"]
    assert decisions == [
        ("drift_alert.block", "open", "blocked"),
        ("drift_alert.acknowledge", "blocked", "acknowledged"),
        ("drift_alert.approve", "acknowledged", "approved"),
    ]
    assert events[-1][2]["reason"] == "Fixed upstream."


# --- the guard ----------------------------------------------------------------------------------


def test_guard_update_validates_and_audits(
    project: Any, other_project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, UNCHANGED, guard=False)
    admin = members["admin"]
    with pytest.raises(ValidationError) as incomplete:
        services.rubric_guard_update(
            actor=admin,
            rubric=scenario.rubric,
            enabled=True,
            reference_set=None,
            judge=scenario.judge,
            min_effect=0.02,
            tolerance=0.01,
            alpha=0.05,
        )
    assert "reference_set" in incomplete.value.message_dict
    foreign = make_judge(other_project, name="Foreign")
    with pytest.raises(ValidationError) as elsewhere:
        services.rubric_guard_update(
            actor=admin,
            rubric=scenario.rubric,
            enabled=True,
            reference_set=scenario.reference_set,
            judge=foreign,
            min_effect=0.02,
            tolerance=0.01,
            alpha=0.05,
        )
    assert "judge" in elsewhere.value.message_dict
    with pytest.raises(PermissionDenied):
        services.rubric_guard_update(
            actor=members["author"],
            rubric=scenario.rubric,
            enabled=False,
            reference_set=None,
            judge=None,
            min_effect=0.02,
            tolerance=0.01,
            alpha=0.05,
        )
    services.rubric_guard_update(
        actor=admin,
        rubric=scenario.rubric,
        enabled=True,
        reference_set=scenario.reference_set,
        judge=scenario.judge,
        min_effect=0.05,
        tolerance=0.02,
        alpha=0.01,
    )
    scenario.rubric.refresh_from_db()
    assert selectors.guard_thresholds(scenario.rubric) == DriftThresholds(
        min_effect=0.05, tolerance=0.02, alpha=0.01
    )
    event = AuditEvent.objects.get(action="rubric.guard_update")
    assert event.before["enabled"] is False and event.after["enabled"] is True


def test_reports_use_the_guard_thresholds_of_the_candidate_rubric(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    set_guard(scenario.rubric, min_effect=0.5)  # no domain falls by 50 points
    report = _build(scenario)
    assert report.thresholds["min_effect"] == 0.5
    assert "masked_drift" not in _kinds(report)
    assert not DriftAlert.objects.exists()
