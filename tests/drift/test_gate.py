"""The drift gate on the production label: each rule, through the service, the API and the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.core.api import Conflict
from apps.drift import selectors, services
from apps.drift.gate import promotion_refusal
from apps.drift.models import AlertStatus, DriftReport, ReportStatus
from apps.rubrics.models import RubricLabel
from apps.rubrics.services import rubric_label_move
from tests.drift.factories import MASKED, UNCHANGED, make_scenario, publish_version

pytestmark = pytest.mark.django_db


def _report(scenario: Any, *, build: bool = True) -> DriftReport:
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk) if build else report


def _refusal(scenario: Any, label: str = "production") -> str | None:
    return promotion_refusal(rubric=scenario.rubric, version=scenario.v2, label=label)


def test_unguarded_rubric_and_other_labels_are_never_refused(project: Any) -> None:
    scenario = make_scenario(project, MASKED, guard=False)
    assert _refusal(scenario) is None
    assert selectors.version_drift_status(scenario.v2) == selectors.NOT_GUARDED
    scenario.rubric.guard_enabled = True  # on, but without a judge or reference set
    scenario.rubric.save()
    reason = _refusal(scenario)
    assert reason is not None and "names no judge or reference set" in reason
    assert _refusal(scenario, label="staging") is None


def test_no_report_refuses_but_the_first_version_passes(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    reason = _refusal(scenario)
    assert reason is not None and "No drift report compares v2 with v1" in reason
    assert selectors.version_drift_status(scenario.v2) == selectors.NOT_CHECKED
    assert (
        promotion_refusal(rubric=scenario.rubric, version=scenario.v1, label="production") is None
    )
    assert selectors.version_drift_status(scenario.v1) == selectors.NO_BASELINE


def test_pending_and_failed_reports_refuse(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    report = _report(scenario, build=False)
    reason = _refusal(scenario)
    assert reason is not None and "still running" in reason
    services.drift_report_fail(report=report, reason="the judge endpoint vanished")
    reason = _refusal(scenario)
    assert reason is not None and "failed" in reason and "vanished" in reason


def test_a_report_without_flags_lets_the_version_through(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    _report(scenario)
    assert _refusal(scenario) is None
    assert selectors.version_drift_status(scenario.v2) == selectors.PASSED


@pytest.mark.parametrize(
    ("decision", "refused", "status_word"),
    [
        (None, "is open", selectors.ALERT_OPEN),
        ("block", "blocked", selectors.BLOCKED),
        ("acknowledge", "acknowledged but not approved", selectors.ACKNOWLEDGED),
        ("approve", None, selectors.APPROVED),
    ],
)
def test_alert_states_and_the_gate(
    project: Any,
    members: dict[str, Any],
    decision: str | None,
    refused: str | None,
    status_word: str,
) -> None:
    scenario = make_scenario(project, MASKED)
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


def test_only_the_guard_comparison_counts(project: Any, members: dict[str, Any]) -> None:
    """A passing report against some other baseline cannot clear the version."""
    scenario = make_scenario(project, MASKED)
    _report(scenario)  # the flagged guard comparison: v1 -> v2
    v3 = publish_version(scenario.rubric, parent=scenario.v2)
    assert selectors.drift_predecessor(v3) == scenario.v2
    # v3 compared with itself-like runs of v2 would pass, but v3's gate report is v2 -> v3.
    assert promotion_refusal(rubric=scenario.rubric, version=v3, label="production") is not None
    # The newest guard report decides: a later passing report of v1 -> v2 replaces the alert.
    later = DriftReport.objects.create(
        project=project,
        rubric=scenario.rubric,
        baseline_version=scenario.v1,
        candidate_version=scenario.v2,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        reference_set=scenario.reference_set,
        judge=scenario.judge,
        status=ReportStatus.READY,
    )
    assert selectors.gate_report(scenario.v2) == later
    assert _refusal(scenario) is None


def test_label_move_service_raises_conflict_with_the_reason(
    project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, MASKED)
    report = _report(scenario)
    with pytest.raises(Conflict) as caught:
        rubric_label_move(
            actor=members["admin"], rubric=scenario.rubric, version=scenario.v2, label="production"
        )
    assert "is open" in str(caught.value.detail)
    assert not RubricLabel.objects.filter(rubric=scenario.rubric, name="production").exists()
    services.alert_resolve(
        actor=members["admin"], alert=report.alert, decision="approve", reason="Accepted."
    )
    moved = rubric_label_move(
        actor=members["admin"], rubric=scenario.rubric, version=scenario.v2, label="production"
    )
    assert moved.version == scenario.v2


def test_promote_api_answers_409_until_approved(
    project: Any, members: dict[str, Any], api_client_for: Any
) -> None:
    scenario = make_scenario(project, MASKED)
    report = _report(scenario)
    admin = api_client_for(members["admin"])
    url = reverse("rubric-promote", kwargs={"pk": scenario.rubric.pk})
    body = {"version": scenario.v2.pk, "label": "production"}
    refused = admin.post(url, body, format="json")
    assert refused.status_code == 409
    assert "Drift alert" in refused.json()["detail"]
    resolve = reverse("alert-resolve", kwargs={"pk": report.alert.pk})
    assert (
        admin.post(resolve, {"decision": "block", "reason": ""}, format="json").status_code == 200
    )
    blocked = admin.post(url, body, format="json")
    assert blocked.status_code == 409 and "blocked" in blocked.json()["detail"]
    approve = {"decision": "approve", "reason": "The drop is an artefact of stale labels."}
    assert admin.post(resolve, approve, format="json").status_code == 200
    assert admin.post(url, body, format="json").status_code == 200
    assert RubricLabel.objects.get(rubric=scenario.rubric, name="production").version == scenario.v2


def test_promote_page_shows_the_refusal(project: Any, members: dict[str, Any], client: Any) -> None:
    scenario = make_scenario(project, MASKED)
    report = _report(scenario)
    client.force_login(members["admin"])
    url = reverse("rubrics:promote", kwargs={"project": project.slug, "rubric": scenario.rubric.pk})
    response = client.post(url, {"version": scenario.v2.pk, "label": "production"}, follow=True)
    assert response.status_code == 200
    assert "Drift alert" in response.content.decode()
    assert not RubricLabel.objects.filter(rubric=scenario.rubric).exists()
    resolve = reverse("drift:resolve", kwargs={"project": project.slug, "alert": report.alert.pk})
    client.post(resolve, {"decision": "approve", "reason": "Checked by hand: fine."})
    report.alert.refresh_from_db()
    assert report.alert.status == AlertStatus.APPROVED
    client.post(url, {"version": scenario.v2.pk, "label": "production"})
    assert RubricLabel.objects.get(rubric=scenario.rubric).version == scenario.v2
