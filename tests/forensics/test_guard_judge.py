"""The guard watching its judge: a new judge (or the judge's config edited in place) is compared
with the judge in use before it checks any version; a clean change clears itself, a flagged one
waits for an admin's audited acceptance; the guard page and the API show where it stands."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.drift import services as drift_services
from apps.drift.models import DriftGuard, ReportStatus
from apps.forensics import services
from apps.forensics.models import JobStatus, JudgeDriftReport, JudgeDriftTrigger
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig
from tests.conftest import wait_until
from tests.factories import SAFE_CRITERIA, make_judge, make_reference_set
from tests.forensics.factories import EDITED_INSTRUCTIONS, judged, publish


@pytest.fixture
def guarded(project: Any, members: Any) -> dict[str, Any]:
    """A rubric with two published versions, guarded by an unbiased offline judge on a snapshot
    where the guard's version (the newest) was judged once already."""
    v1 = publish(project, criteria=SAFE_CRITERIA)
    v2 = publish(
        project, rubric=v1.rubric, criteria=SAFE_CRITERIA, instructions=EDITED_INSTRUCTIONS
    )
    reference = make_reference_set(project, n_pairs=40)
    old = make_judge(project, name="Offline")
    judged(v2, old, reference)
    set_judge(members["admin"], v1.rubric, reference, old)
    return {"rubric": v1.rubric, "v1": v1, "v2": v2, "reference": reference, "old": old}


def set_judge(admin: Any, rubric: Any, reference: Any, judge: JudgeConfig) -> DriftGuard:
    return drift_services.rubric_guard_update(
        actor=admin,
        rubric=rubric,
        enabled=True,
        reference_set=reference,
        judge=judge,
        min_effect=0.02,
        tolerance=0.01,
        alpha=0.05,
    )


def new_version(world: dict[str, Any], text: str) -> Any:
    return publish(
        world["rubric"].project,
        rubric=world["rubric"],
        criteria=SAFE_CRITERIA,
        instructions=f"Judge which response is better. {text}",
    )


def checked_judges(world: dict[str, Any], admin: Any, text: str) -> set[int]:
    """The judges of the guard's checks of a newly published version."""
    reports = drift_services.guard_checks_start(actor=admin, version=new_version(world, text))
    assert reports
    return {report.judge_id for report in reports}


def guard_api(api_client_for: Any, user: Any, rubric: Any) -> dict[str, Any]:
    response = api_client_for(user).get(f"/api/rubrics/{rubric.pk}/guard/")
    assert response.status_code == 200
    return dict(response.json())


def guard_page(client: Any, admin: Any, rubric: Any) -> str:
    client.force_login(admin)
    url = reverse("drift:guard", kwargs={"project": rubric.project.slug, "rubric": rubric.pk})
    response = client.get(url)
    assert response.status_code == 200
    return str(response.content.decode())


def test_a_biased_new_judge_is_checked_and_the_guard_keeps_the_old_one_until_accepted(
    guarded: dict[str, Any],
    members: Any,
    client: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    admin, rubric, old = members["admin"], guarded["rubric"], guarded["old"]
    biased = make_judge(rubric.project, name="Offline <b>biased</b>", params={"position_bias": 0.6})
    with django_capture_on_commit_callbacks(execute=True):
        guard = set_judge(admin, rubric, guarded["reference"], biased)
    # The change is requested, not applied; the check ran once the edit committed.
    assert guard.judge_id == old.pk and guard.requested_judge_id == biased.pk
    report = JudgeDriftReport.objects.get(rubric=rubric)
    assert report.trigger == JudgeDriftTrigger.GUARD
    assert (report.old_judge_id, report.new_judge_id) == (old.pk, biased.pk)
    assert report.old_version == guarded["v2"]
    assert report.status == JobStatus.READY and report.flags

    # The next candidate check is judged by the old judge.
    assert checked_judges(guarded, admin, "First.") == {old.pk}
    guard.refresh_from_db()
    assert guard.judge_id == old.pk and guard.requested_judge_id == biased.pk

    state = guard_api(api_client_for, members["viewer"], rubric)
    assert state["judge"] == old.pk and state["requested_judge"] == biased.pk
    clearance = state["judge_watch"]["clearance"]
    assert clearance["cleared"] is False and clearance["flagged"] is True
    assert clearance["report"] == report.pk
    page = guard_page(client, admin, rubric)
    assert "is requested and not cleared yet" in page
    assert f'data-testid="guard-judge-report">Judge drift report {report.pk}</a>' in page
    assert "Offline &lt;b&gt;biased&lt;/b&gt;" in page and "<b>biased</b>" not in page

    # Only an admin accepts, and only with a reason.
    with pytest.raises(PermissionDenied):
        services.guard_judge_accept(actor=members["author"], report=report, reason="Looks fine.")
    with pytest.raises(ValidationError) as no_reason:
        services.guard_judge_accept(actor=admin, report=report, reason="  ")
    assert "reason" in no_reason.value.message_dict
    response = api_client_for(admin).post(
        f"/api/judge-drift-reports/{report.pk}/accept/",
        {"reason": "The bias only touches ties; checked by hand."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["acceptance_reason"].startswith("The bias only touches ties")
    accepted = AuditEvent.objects.get(action="judge_drift.accept")
    assert accepted.actor == admin and accepted.after["new_judge"] == biased.pk
    assert guard_api(api_client_for, admin, rubric)["judge_watch"]["clearance"]["cleared"]

    # The check after the acceptance adopts the new judge (audited).
    assert checked_judges(guarded, admin, "Second.") == {biased.pk}
    guard.refresh_from_db()
    assert guard.judge_id == biased.pk and guard.requested_judge_id is None
    adopted = AuditEvent.objects.get(action="drift_guard.judge_adopt")
    assert adopted.before["judge"] == old.pk and adopted.after["judge"] == biased.pk
    assert adopted.after["report"] == report.pk
    assert {"rubric.guard_update", "judge_drift.create", "judge_drift.ready"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )


def test_a_clean_judge_change_clears_itself(
    guarded: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin, rubric, old = members["admin"], guarded["rubric"], guarded["old"]
    copy = make_judge(rubric.project, name="Offline, renamed copy")
    with django_capture_on_commit_callbacks(execute=True):
        set_judge(admin, rubric, guarded["reference"], copy)
    report = JudgeDriftReport.objects.get(rubric=rubric)
    assert report.status == JobStatus.READY and report.flags == []
    # Nothing to accept: the report clears the judge by itself.
    with pytest.raises(ValidationError):
        services.guard_judge_accept(actor=admin, report=report, reason="Fine.")
    assert checked_judges(guarded, admin, "First.") == {copy.pk}
    guard = DriftGuard.objects.get(rubric=rubric)
    assert guard.judge_id == copy.pk and guard.requested_judge_id is None
    adopted = AuditEvent.objects.get(action="drift_guard.judge_adopt")
    assert adopted.before["judge"] == old.pk and adopted.after["cleared"] is True


def test_choosing_the_judge_in_use_again_cancels_the_request(
    guarded: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin, rubric, old = members["admin"], guarded["rubric"], guarded["old"]
    biased = make_judge(rubric.project, name="Biased", params={"position_bias": 0.6})
    with django_capture_on_commit_callbacks(execute=True):
        set_judge(admin, rubric, guarded["reference"], biased)
    guard = set_judge(admin, rubric, guarded["reference"], old)
    assert guard.judge_id == old.pk and guard.requested_judge_id is None
    assert checked_judges(guarded, admin, "First.") == {old.pk}


def test_a_judge_config_edited_in_place_is_a_new_judge_and_the_guard_waits(
    guarded: dict[str, Any],
    members: Any,
    client: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    admin, rubric, old = members["admin"], guarded["rubric"], guarded["old"]
    old.params = {**old.params, "position_bias": 0.6}
    with django_capture_on_commit_callbacks(execute=True):
        judging_services.judge_config_save(actor=admin, judge=old)
    report = JudgeDriftReport.objects.get(rubric=rubric)
    assert report.old_judge_id == report.new_judge_id == old.pk
    assert report.status == JobStatus.READY and report.flags
    assert "edited_at" in report.old_judge_state
    # The config's earlier values are gone: no old judge to fall back on, the check waits and
    # its failed report says why.
    waiting = drift_services.guard_checks_start(actor=admin, version=new_version(guarded, "First."))
    assert waiting and all(r.status == ReportStatus.FAILED for r in waiting)
    assert all("edited in place and waits for clearance" in r.error for r in waiting)
    assert all(r.baseline_run_id is None and r.candidate_run_id is None for r in waiting)
    watch = guard_api(api_client_for, admin, rubric)["judge_watch"]
    assert watch["edited_in_place"] is True and watch["waiting"] is True
    client.force_login(admin)
    page_url = reverse(
        "forensics:judge_drift", kwargs={"project": rubric.project.slug, "pk": report.pk}
    )
    assert "Accept the new judge" in client.get(page_url).content.decode()
    accept_url = reverse(
        "forensics:judge_drift_accept", kwargs={"project": rubric.project.slug, "pk": report.pk}
    )
    response = client.post(accept_url, {"reason": "The new <i>snapshot</i> is wanted."})
    assert response.status_code == 302
    page = client.get(page_url).content.decode()
    assert "The new &lt;i&gt;snapshot&lt;/i&gt; is wanted." in page
    assert "Accept the new judge" not in page
    assert checked_judges(guarded, admin, "Second.") == {old.pk}
    guard = DriftGuard.objects.get(rubric=rubric)
    assert guard.judge_state["params"]["position_bias"] == 0.6
    assert AuditEvent.objects.filter(action="drift_guard.judge_adopt").count() == 1


def test_an_edit_that_does_not_change_the_answers_starts_nothing(
    guarded: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = guarded["old"]
    old.concurrency = 2
    old.params = {**old.params, "timeout_s": 5}
    with django_capture_on_commit_callbacks(execute=True):
        judging_services.judge_config_save(actor=members["admin"], judge=old)
    assert not JudgeDriftReport.objects.filter(rubric=guarded["rubric"]).exists()
    assert checked_judges(guarded, members["admin"], "First.") == {old.pk}


@pytest.mark.worker
@pytest.mark.slow
def test_the_check_runs_on_a_worker_once_the_guard_edit_commits(
    celery_worker_process: Any, project: Any, members: Any
) -> None:
    """Committed for real: the edit's on-commit dispatch reaches a worker, which starts the
    runs, judges them and builds the report; until then the guard judges with the old judge."""
    admin = members["admin"]
    v1 = publish(project, criteria=SAFE_CRITERIA)
    reference = make_reference_set(project, n_pairs=20)
    old = make_judge(project, name="Offline")
    set_judge(admin, v1.rubric, reference, old)
    copy = make_judge(project, name="Offline, renamed copy")
    celery_worker_process(queues="default", concurrency=1)
    guard = set_judge(admin, v1.rubric, reference, copy)
    assert guard.judge_id == old.pk and guard.requested_judge_id == copy.pk

    def ready() -> JudgeDriftReport | None:
        report = JudgeDriftReport.objects.filter(rubric=v1.rubric).first()
        return report if report is not None and report.status != JobStatus.PENDING else None

    report = wait_until(ready, timeout=180, interval=0.5)
    assert report.status == JobStatus.READY, report.error
    assert report.flags == [] and report.trigger == JudgeDriftTrigger.GUARD
    world = {"rubric": v1.rubric}
    assert checked_judges(world, admin, "First.") == {copy.pk}
