"""The drift API: reports (create, read), alerts (filter, resolve) and the rubric's guard."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.drift import services
from apps.drift.models import AlertStatus, DriftGuard, DriftReport, ReportStatus
from apps.judging.models import JudgingRun
from tests.drift.factories import MASKED, UNCHANGED, make_scenario
from tests.factories import make_judge, make_reference_set, make_version

pytestmark = pytest.mark.django_db

API_REPORT_FIELDS = {
    "id",
    "status",
    "baseline_run",
    "candidate_run",
    "reference_set",
    "thresholds",
    "overall",
    "by_domain",
    "flags",
    "flipped",
}
API_DOMAIN_FIELDS = {
    "n",
    "baseline_accuracy",
    "candidate_accuracy",
    "delta",
    "delta_ci",
    "mcnemar_p",
    "p_holm",
    "q_bh",
    "flip_rate",
    "flips",
    "direction",
    "mde",
}
API_ALERT_FIELDS = {
    "id",
    "report",
    "rubric",
    "version",
    "severity",
    "status",
    "reason",
    "resolved_by",
    "resolved_at",
}


def _flagged(project: Any) -> DriftReport:
    scenario = make_scenario(project, MASKED)
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk)


def test_post_two_runs_builds_the_report_and_detail_has_the_api_fields(
    project: Any,
    members: dict[str, Any],
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    scenario = make_scenario(project, MASKED)
    client = api_client_for(members["author"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("drift-report-list"),
            {"baseline_run": scenario.baseline_run.pk, "candidate_run": scenario.candidate_run.pk},
            format="json",
        )
    assert response.status_code == 202, response.json()
    created = response.json()
    # Eager tasks build the report as soon as the creating transaction commits.
    detail = client.get(created["url"]).json()
    assert set(detail) >= API_REPORT_FIELDS
    assert detail["status"] == ReportStatus.READY
    harmless = detail["by_domain"]["harmlessness"]
    assert set(harmless) >= API_DOMAIN_FIELDS
    assert set(harmless["direction"]) == {"toward_longer", "toward_refusal", "toward_position_a"}
    assert {"share", "n", "p"} <= set(harmless["direction"]["toward_longer"])
    assert {f["kind"] for f in detail["flags"]} == {"domain_drift", "masked_drift"}
    assert all({"kind", "domain", "message"} <= set(f) for f in detail["flags"])
    assert detail["alert"] is not None and detail["severity"] == "high"
    assert len(detail["flipped"]) == 24


def test_post_runs_of_different_judges_is_a_400_with_the_reason(
    project: Any, members: dict[str, Any], api_client_for: Any
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    other = JudgingRun.objects.get(pk=scenario.candidate_run.pk)
    other.pk = None
    other.judge = make_judge(project, name="Different")
    other.save()
    response = api_client_for(members["admin"]).post(
        reverse("drift-report-list"),
        {"baseline_run": scenario.baseline_run.pk, "candidate_run": other.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "different judge configs" in str(response.json()["candidate_run"])


def test_post_versions_starts_the_missing_runs(
    project: Any,
    members: dict[str, Any],
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    reference_set = make_reference_set(project, n_pairs=12)
    judge = make_judge(project, name="Offline")
    v1 = make_version(project)
    v2 = make_version(project, rubric=v1.rubric, instructions="Prefer concise answers.")
    client = api_client_for(members["author"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("drift-report-list"),
            {
                "baseline_version": v1.pk,
                "candidate_version": v2.pk,
                "judge": judge.name,
                "reference_set": reference_set.pk,
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    report = DriftReport.objects.get(pk=response.json()["id"])
    assert report.status == ReportStatus.READY
    assert report.baseline_run.rubric_version == v1 and report.candidate_run.rubric_version == v2
    assert report.stats["pairs_compared"] == 12


def test_post_body_errors_and_roles(
    project: Any, members: dict[str, Any], api_client_for: Any
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    url = reverse("drift-report-list")
    body = {"baseline_run": scenario.baseline_run.pk, "candidate_run": scenario.candidate_run.pk}
    author = api_client_for(members["author"])
    assert (
        author.post(url, {"baseline_run": scenario.baseline_run.pk}, format="json").status_code
        == 400
    )
    mixed = {**body, "candidate_version": scenario.v2.pk}
    assert author.post(url, mixed, format="json").status_code == 400
    assert api_client_for(members["viewer"]).post(url, body, format="json").status_code == 403
    assert api_client_for(members["annotator"]).post(url, body, format="json").status_code == 403
    assert api_client_for(members["outsider"]).post(url, body, format="json").status_code == 404
    assert not DriftReport.objects.exists()


def test_lists_are_scoped_and_hidden_from_annotators(
    project: Any, other_project: Any, members: dict[str, Any], api_client_for: Any, make_user: Any
) -> None:
    mine = _flagged(project)
    theirs = _flagged(other_project)
    viewer = api_client_for(members["viewer"])
    reports = viewer.get(reverse("drift-report-list")).json()["results"]
    assert [r["id"] for r in reports] == [mine.pk]
    alerts = viewer.get(reverse("alert-list")).json()["results"]
    assert [a["id"] for a in alerts] == [mine.alert.pk]
    assert set(alerts[0]) >= API_ALERT_FIELDS
    assert viewer.get(reverse("alert-detail", kwargs={"pk": theirs.alert.pk})).status_code == 404
    annotator = api_client_for(members["annotator"])
    assert annotator.get(reverse("alert-list")).status_code == 403
    assert annotator.get(reverse("drift-report-list")).status_code == 403


def test_alert_filters(project: Any, members: dict[str, Any], api_client_for: Any) -> None:
    first = _flagged(project)
    second = _flagged(project)
    services.alert_resolve(
        actor=members["admin"], alert=second.alert, decision="block", reason="No."
    )
    client = api_client_for(members["viewer"])
    url = reverse("alert-list")

    def ids(**params: Any) -> list[int]:
        return [a["id"] for a in client.get(url, params).json()["results"]]

    assert ids(status="open") == [first.alert.pk]
    assert ids(status="blocked") == [second.alert.pk]
    assert ids(severity="high") == [first.alert.pk, second.alert.pk]  # open first
    assert ids(severity="medium") == []
    assert ids(rubric=second.rubric_id) == [second.alert.pk]
    assert client.get(url, {"status": "nonsense"}).status_code == 400


def test_resolve_permissions_and_reasons(
    project: Any, members: dict[str, Any], api_client_for: Any
) -> None:
    report = _flagged(project)
    url = reverse("alert-resolve", kwargs={"pk": report.alert.pk})
    approve = {"decision": "approve", "reason": "Safe: the edit only reworded the refusal rule."}
    for role in ("author", "viewer", "annotator"):
        assert api_client_for(members[role]).post(url, approve, format="json").status_code == 403
    assert api_client_for(members["outsider"]).post(url, approve, format="json").status_code == 404
    admin = api_client_for(members["admin"])
    missing = admin.post(url, {"decision": "approve", "reason": ""}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    assert admin.post(url, {"decision": "ship"}, format="json").status_code == 400
    done = admin.post(url, approve, format="json")
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == AlertStatus.APPROVED
    assert body["resolved_by"] == members["admin"].username
    assert body["reason"] == approve["reason"]


def test_guard_read_and_write(project: Any, members: dict[str, Any], api_client_for: Any) -> None:
    scenario = make_scenario(project, UNCHANGED, guard=False)
    url = reverse("rubric-guard", kwargs={"pk": scenario.rubric.pk})
    viewer = api_client_for(members["viewer"])
    got = viewer.get(url).json()
    assert got == {
        "rubric": scenario.rubric.pk,
        "enabled": False,
        "reference_set": None,
        "judge": None,
        "min_effect": 0.02,
        "tolerance": 0.01,
        "alpha": 0.05,
        "anchor": None,
        "anchor_number": None,
        "anchor_reason": "",
        "anchor_set_at": None,
        "requested_judge": None,
        "judge_watch": {
            "judge": None,
            "judge_name": None,
            "requested_judge": None,
            "requested_judge_name": None,
            "edited_in_place": False,
            "clearance": None,
            "waiting": False,
        },
    }
    guard = {
        "enabled": True,
        "reference_set": scenario.reference_set.pk,
        "judge": scenario.judge.pk,
        "min_effect": 0.03,
        "tolerance": 0.01,
        "alpha": 0.05,
    }
    assert viewer.put(url, guard, format="json").status_code == 403
    assert api_client_for(members["author"]).put(url, guard, format="json").status_code == 403
    assert api_client_for(members["annotator"]).get(url).status_code == 403
    admin = api_client_for(members["admin"])
    saved = admin.put(url, guard, format="json")
    assert saved.status_code == 200 and saved.json()["min_effect"] == 0.03
    incomplete = admin.put(url, {**guard, "judge": None}, format="json")
    assert incomplete.status_code == 400 and "judge" in incomplete.json()
    patched = admin.patch(url, {"alpha": 0.01}, format="json")
    assert patched.status_code == 200
    assert patched.json()["alpha"] == 0.01 and patched.json()["judge"] == scenario.judge.pk
    stored = DriftGuard.objects.get(rubric=scenario.rubric)
    assert stored.enabled and stored.alpha == 0.01
