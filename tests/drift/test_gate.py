"""The drift gate on the production label: each rule, through the service, the API and the page.

The scenario's rubric has v1 and v2 (a child of v1) and finished runs of both; ``_production``
puts v1 in production, which under a guard also makes v1 the anchor.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.core.api import Conflict
from apps.core.models import AuditEvent
from apps.drift import selectors, services
from apps.drift.gate import promotion_check
from apps.drift.models import AlertStatus, DriftAlert, DriftReport, ReportStatus, ReportTrigger
from apps.rubrics.models import RubricLabel, RubricVersion
from apps.rubrics.services import rubric_label_move
from tests.drift.factories import (
    MASKED,
    UNCHANGED,
    make_run,
    make_scenario,
    run_verdicts,
    set_guard,
)
from tests.factories import SAFE_CRITERIA, make_version

pytestmark = pytest.mark.django_db


def _report(scenario: Any, *, build: bool = True) -> DriftReport:
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk) if build else report


def _refusal(scenario: Any, version: RubricVersion | None = None, label: str = "production") -> Any:
    refusal = promotion_check(
        rubric=scenario.rubric,
        version=version or scenario.v2,
        label=label,
        production=selectors.production_version(scenario.rubric),
    )
    return refusal.reason if refusal is not None else None


def _production(scenario: Any, admin: Any) -> None:
    rubric_label_move(actor=admin, rubric=scenario.rubric, version=scenario.v1)


def _promote(scenario: Any, admin: Any, version: RubricVersion) -> Any:
    """The 409 body of a refused promotion (or None when the label moved)."""
    try:
        rubric_label_move(actor=admin, rubric=scenario.rubric, version=version)
    except Conflict as refused:
        return refused.detail
    return None


def test_other_labels_pass_and_an_incomplete_guard_refuses(
    project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, UNCHANGED, guard=False)
    assert _refusal(scenario) is None
    assert selectors.version_drift_status(scenario.v2) == selectors.NOT_GUARDED
    set_guard(scenario.rubric)  # on, but without a judge or reference set
    reason = _refusal(scenario)
    assert reason is not None and "names no judge or reference set" in reason
    assert _refusal(scenario, label="staging") is None


@pytest.mark.parametrize(
    ("decision", "refused"),
    [(None, "is open"), ("block", "blocked"), ("acknowledge", None), ("approve", None)],
)
def test_an_alert_refuses_promotion_even_without_a_guard(
    project: Any, members: dict[str, Any], decision: str | None, refused: str | None
) -> None:
    """A manual comparison's alert is a decision to make, guard or not."""
    scenario = make_scenario(project, MASKED, guard=False)
    report = _report(scenario)
    assert report.alert.severity == "high"
    if decision is not None:
        services.alert_resolve(
            actor=members["admin"], alert=report.alert, decision=decision, reason="Reviewed."
        )
    body = _promote(scenario, members["admin"], scenario.v2)
    if refused is None:
        assert body is None
        assert RubricLabel.objects.get(rubric=scenario.rubric).version == scenario.v2
    else:
        assert refused in body["detail"] and report.alert.headline in body["detail"]
        assert body["links"]["alert"] == reverse("alert-detail", kwargs={"pk": report.alert.pk})
        assert not RubricLabel.objects.filter(rubric=scenario.rubric).exists()


def test_the_first_promotion_under_a_guard_sets_the_anchor(
    project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    assert selectors.guard_for(scenario.rubric).anchor is None
    assert _refusal(scenario, scenario.v1) is None  # nothing to compare against yet
    _production(scenario, members["admin"])
    guard = selectors.guard_for(scenario.rubric)
    assert guard.anchor == scenario.v1 and "first version promoted" in guard.anchor_reason
    event = AuditEvent.objects.get(action="drift_guard.anchor_move")
    assert event.actor == members["admin"] and event.after["number"] == 1
    assert selectors.version_drift_status(scenario.v1) == selectors.NO_BASELINE


def test_a_missing_comparison_with_production_starts_by_itself(
    project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    _production(scenario, members["admin"])
    assert selectors.version_drift_status(scenario.v2) == selectors.NOT_CHECKED
    body = _promote(scenario, members["admin"], scenario.v2)
    started = DriftReport.objects.get(candidate_version=scenario.v2)
    assert body["code"] == "drift_check_started"
    assert "never compared with it" in body["detail"] and f"report {started.pk}" in body["detail"]
    assert body["links"]["report"] == reverse("drift-report-detail", kwargs={"pk": started.pk})
    assert (started.baseline_version, started.trigger) == (scenario.v1, ReportTrigger.PROMOTION)
    assert started.status == ReportStatus.PENDING  # its runs were reused; built by the worker
    running = _promote(scenario, members["admin"], scenario.v2)
    assert running["code"] == "drift_check_running" and "still running" in running["detail"]
    assert DriftReport.objects.count() == 1
    services.drift_report_build(report_id=started.pk)
    assert _promote(scenario, members["admin"], scenario.v2) is None
    assert RubricLabel.objects.get(rubric=scenario.rubric).version == scenario.v2
    assert AuditEvent.objects.filter(action="rubric.promote_refused").count() == 2


@pytest.mark.parametrize(
    ("decision", "refused", "status_word"),
    [
        (None, "is open", selectors.ALERT_OPEN),
        ("block", "blocked", selectors.BLOCKED),
        ("acknowledge", "acknowledged but not approved", selectors.ACKNOWLEDGED),
        ("approve", None, selectors.APPROVED),
    ],
)
def test_alert_states_of_the_comparison_with_production(
    project: Any,
    members: dict[str, Any],
    decision: str | None,
    refused: str | None,
    status_word: str,
) -> None:
    scenario = make_scenario(project, MASKED)
    _production(scenario, members["admin"])
    report = _report(scenario)
    if decision is not None:
        services.alert_resolve(
            actor=members["admin"], alert=report.alert, decision=decision, reason="Reviewed."
        )
    reason = _refusal(scenario)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason
        assert report.alert.headline in reason
    assert selectors.version_drift_status(scenario.v2) == status_word


def test_a_failed_comparison_is_started_again_on_promotion(
    project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    _production(scenario, members["admin"])
    failed = services.drift_report_fail(report=_report(scenario, build=False), reason="vanished")
    assert selectors.version_drift_status(scenario.v2) == selectors.FAILED
    body = _promote(scenario, members["admin"], scenario.v2)
    assert "failed" in body["detail"] and body["code"] == "drift_check_started"
    fresh = DriftReport.objects.exclude(pk=failed.pk).get(candidate_version=scenario.v2)
    assert fresh.status == ReportStatus.PENDING


def test_production_moved_since_the_check_refuses_and_starts_a_new_comparison(
    project: Any, members: dict[str, Any]
) -> None:
    """v3 passed against v1, but production is v2 by the time v3 is promoted."""
    admin = members["admin"]
    scenario = make_scenario(project, UNCHANGED)
    _production(scenario, admin)
    _report(scenario)  # v1 -> v2 passes
    assert _promote(scenario, admin, scenario.v2) is None
    v3 = make_version(
        scenario.rubric.project, rubric=scenario.rubric, criteria=SAFE_CRITERIA, parent=scenario.v1
    )
    run_v3 = make_run(
        version=v3,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=["A"] * 20 + ["B"] * 20,
        pairs=scenario.pairs,
    )
    against_v1 = services.drift_report_build(
        report_id=services.drift_report_create(
            actor=None, baseline_run=scenario.baseline_run, candidate_run=run_v3, dispatch=False
        ).pk
    )
    assert against_v1.status == ReportStatus.READY and not against_v1.flags
    body = _promote(scenario, admin, v3)
    assert body["code"] == "drift_check_started"
    assert "Production is v2 now" in body["detail"]
    started = DriftReport.objects.get(candidate_version=v3, baseline_version=scenario.v2)
    assert started.trigger == ReportTrigger.PROMOTION
    assert body["links"]["page"] == reverse(
        "drift:report", kwargs={"project": project.slug, "report": started.pk}
    )
    assert RubricLabel.objects.get(rubric=scenario.rubric).version == scenario.v2


def test_fork_of_a_blocked_version_cannot_walk_around_the_gate(
    project: Any,
    members: dict[str, Any],
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """v2 is blocked; v3, a fork of v2 with the same preferences, passes against its parent but
    is judged against production v1 (the anchor too) and refused, saying where it comes from."""
    admin = members["admin"]
    scenario = make_scenario(project, MASKED)
    _production(scenario, admin)
    report = _report(scenario)
    services.alert_resolve(
        actor=admin, alert=report.alert, decision="block", reason="Harmlessness falls."
    )
    v3 = make_version(
        scenario.rubric.project,
        rubric=scenario.rubric,
        criteria=SAFE_CRITERIA,
        parent=scenario.v2,
        instructions="Judge which is best.",
    )
    make_run(
        version=v3,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=run_verdicts(scenario.candidate_run),
        pairs=scenario.pairs,
    )
    with django_capture_on_commit_callbacks(execute=False):
        services.drift_check_on_publish(version_id=v3.pk)  # what publishing announces
    assert services.drift_reports_sweep()  # the worker's part: build the reports
    against_parent = DriftReport.objects.get(candidate_version=v3, baseline_version=scenario.v2)
    against_production = DriftReport.objects.get(candidate_version=v3, baseline_version=scenario.v1)
    assert not against_parent.flags  # the fork itself changes nothing
    assert against_production.flags
    alert = DriftAlert.objects.get(report=against_production)
    lineage = f"forked from v2, blocked by alert {report.alert.pk}: Harmlessness falls."
    assert lineage in alert.headline

    client = api_client_for(admin)
    url = reverse("rubric-promote", kwargs={"pk": scenario.rubric.pk})
    refused = client.post(url, {"version": v3.pk, "label": "production"}, format="json")
    assert refused.status_code == 409
    body = refused.json()
    assert "harmlessness" in body["detail"] and "v3" in body["detail"]
    assert "against production v1" in body["detail"] and lineage in body["detail"]
    assert RubricLabel.objects.get(rubric=scenario.rubric).version == scenario.v1
    # The report and the alert say where v3 comes from, in the API as on the page.
    detail = client.get(reverse("drift-report-detail", kwargs={"pk": against_production.pk}))
    assert detail.json()["lineage"] == lineage
    assert client.get(reverse("alert-detail", kwargs={"pk": alert.pk})).json()["lineage"] == lineage
    # Acknowledging the alert is not enough: the comparison with production gates.
    services.alert_resolve(actor=admin, alert=alert, decision="acknowledge", reason="")
    again = client.post(url, {"version": v3.pk}, format="json")
    assert (
        again.status_code == 409
        and "drifts from production and the anchor v1" in (again.json()["detail"])
    )


def test_a_blocked_version_stays_blocked_until_that_alert_is_approved(
    project: Any, members: dict[str, Any]
) -> None:
    admin = members["admin"]
    scenario = make_scenario(project, MASKED)
    _production(scenario, admin)
    report = _report(scenario)
    services.alert_resolve(actor=admin, alert=report.alert, decision="block", reason="No.")
    # Re-running the comparison returns the decided report: no second alert to approve.
    again = services.drift_check_start(actor=admin, version=scenario.v2, baseline=scenario.v1)
    assert again is not None and again.pk == report.pk
    assert DriftAlert.objects.count() == 1
    assert "blocked" in _promote(scenario, admin, scenario.v2)["detail"]
    services.alert_resolve(actor=admin, alert=report.alert, decision="approve", reason="Fixed.")
    assert _promote(scenario, admin, scenario.v2) is None


def test_promote_page_shows_the_refusal_with_a_link(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    scenario = make_scenario(project, MASKED)
    _production(scenario, members["admin"])
    report = _report(scenario)
    client.force_login(members["admin"])
    url = reverse("rubrics:promote", kwargs={"project": project.slug, "rubric": scenario.rubric.pk})
    response = client.post(url, {"version": scenario.v2.pk, "label": "production"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "Drift alert" in page
    alert_page = reverse("drift:alert", kwargs={"project": project.slug, "alert": report.alert.pk})
    assert f'href="{alert_page}"' in page
    resolve = reverse("drift:resolve", kwargs={"project": project.slug, "alert": report.alert.pk})
    client.post(resolve, {"decision": "approve", "reason": "Checked by hand: fine."})
    report.alert.refresh_from_db()
    assert report.alert.status == AlertStatus.APPROVED
    client.post(url, {"version": scenario.v2.pk, "label": "production"})
    assert RubricLabel.objects.get(rubric=scenario.rubric).version == scenario.v2
