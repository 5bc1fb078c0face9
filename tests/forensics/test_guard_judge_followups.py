"""The guard's judge watch, its loose ends: an admin starts the judge check from the guard page
when no report exists; Accept is offered on any flagged judge-only report that decides the
guard's pending judge, not only the guard's own; and once the judge is cleared the checks that
failed waiting for it start again (the newest of each comparison)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.drift import services as drift_services
from apps.drift.models import DriftGuard, DriftReport, ReportStatus, ReportTrigger
from apps.forensics import services
from apps.forensics.models import JobStatus, JudgeDriftReport, JudgeDriftTrigger
from apps.judging import services as judging_services
from tests.factories import make_judge
from tests.forensics.factories import judged
from tests.forensics.test_guard_judge import guard_page, guarded, new_version, set_judge

__all__ = ["guarded"]  # the fixture, shared with the guard's judge tests


def edit_unwatched(judge: Any, admin: Any, **params: Any) -> None:
    """Edit the config in place without letting its on-commit check run (as when the worker
    that should have started it was down)."""
    judge.params = {**judge.params, **params}
    judging_services.judge_config_save(actor=admin, judge=judge)


def check_url(rubric: Any) -> str:
    return reverse(
        "forensics:guard_judge_check", kwargs={"project": rubric.project.slug, "rubric": rubric.pk}
    )


def judge_drift_page(client: Any, user: Any, report: JudgeDriftReport) -> str:
    client.force_login(user)
    url = reverse("forensics:judge_drift", kwargs={"project": report.project.slug, "pk": report.pk})
    return str(client.get(url).content.decode())


def test_an_admin_starts_the_check_of_an_edited_judge_from_the_guard_page(
    guarded: dict[str, Any], members: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin, rubric, judge = members["admin"], guarded["rubric"], guarded["old"]
    edit_unwatched(judge, admin, position_bias=0.6)
    assert not JudgeDriftReport.objects.exists()
    page = guard_page(client, admin, rubric)
    assert "edited in place and is not cleared yet" in page
    assert "Check the guard's judge now" in page and check_url(rubric) in page

    client.force_login(members["author"])
    assert client.post(check_url(rubric)).status_code == 403
    assert not JudgeDriftReport.objects.exists()

    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(check_url(rubric))
    assert response.status_code == 302
    report = JudgeDriftReport.objects.get(rubric=rubric)
    assert report.trigger == JudgeDriftTrigger.GUARD and report.created_by == admin
    assert report.old_judge_id == report.new_judge_id == judge.pk
    assert report.status == JobStatus.READY and report.flags
    page = guard_page(client, admin, rubric)
    assert "Check the guard's judge now" not in page
    assert f'data-testid="guard-judge-report">Judge drift report {report.pk}</a>' in page


def test_checking_a_judge_that_is_already_cleared_is_refused(
    guarded: dict[str, Any], members: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.guard_judge_check_now(actor=members["admin"], rubric=guarded["rubric"])
    assert "no new judge to check" in refused.value.messages[0]
    assert not JudgeDriftReport.objects.exists()


def test_a_manual_report_that_decides_the_guards_requested_judge_can_be_accepted(
    guarded: dict[str, Any], members: Any, client: Any
) -> None:
    admin, rubric, old = members["admin"], guarded["rubric"], guarded["old"]
    biased = make_judge(rubric.project, name="Biased", params={"position_bias": 0.6})
    set_judge(admin, rubric, guarded["reference"], biased)  # its own check never runs here
    manual = services.judge_drift_start(
        actor=members["author"],
        old_version=guarded["v2"],
        old_judge=old,
        new_judge=biased,
        reference_set=guarded["reference"],
        execute=True,
    )
    assert manual.trigger == JudgeDriftTrigger.MANUAL and manual.flags
    page = judge_drift_page(client, admin, manual)
    assert "Accept the new judge" in page
    # An author sees where it stands, not the decision.
    assert "Accept the new judge" not in judge_drift_page(client, members["author"], manual)

    # A report of two judges the guard does not hang on decides nothing for it.
    other = services.judge_drift_start(
        actor=members["author"],
        old_version=guarded["v2"],
        old_judge=biased,
        new_judge=old,
        reference_set=guarded["reference"],
        execute=True,
    )
    assert other.flags
    assert "Accept the new judge" not in judge_drift_page(client, admin, other)
    with pytest.raises(ValidationError) as refused:
        services.guard_judge_accept(actor=admin, report=other, reason="Fine.")
    assert "does not compare the guard's judge" in refused.value.messages[0]

    services.guard_judge_accept(actor=admin, report=manual, reason="Reviewed by <b>hand</b>.")
    assert "Reviewed by &lt;b&gt;hand&lt;/b&gt;." in judge_drift_page(client, admin, manual)
    guard = DriftGuard.objects.get(rubric=rubric)
    assert drift_services.guard_judge_for_check(guard=guard) == biased


def test_once_the_edited_judge_is_cleared_the_newest_held_check_of_each_comparison_restarts(
    guarded: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin, rubric, judge = members["admin"], guarded["rubric"], guarded["old"]
    # v3 (the guard's version: the newest published) was judged before the edit.
    v3 = new_version(guarded, "First.")
    judged(v3, judge, guarded["reference"])
    # An edit that moves no verdict: its check clears the judge by itself.
    edit_unwatched(judge, admin, temperature=0)
    first = drift_services.guard_checks_start(actor=admin, version=v3)
    again = drift_services.guard_checks_start(actor=admin, version=v3)
    held = [*first, *again]
    assert held and all(r.status == ReportStatus.FAILED and r.waited_for_judge for r in held)
    comparisons = {(r.candidate_version_id, r.baseline_version_id) for r in held}
    assert len(held) == 2 * len(comparisons)

    with django_capture_on_commit_callbacks(execute=True):
        services.guard_judge_check_now(actor=admin, rubric=rubric)
    check = JudgeDriftReport.objects.get(rubric=rubric)
    assert check.status == JobStatus.READY and check.flags == []

    restarted = DriftReport.objects.filter(rubric=rubric, trigger=ReportTrigger.JUDGE_CLEARED)
    assert restarted.count() == len(comparisons)
    assert {(r.candidate_version_id, r.baseline_version_id) for r in restarted} == comparisons
    assert all(r.status == ReportStatus.READY for r in restarted)
    assert all(r.judge_id == judge.pk for r in restarted)
    assert AuditEvent.objects.filter(action="drift_guard.judge_adopt").count() == 1
    guard = DriftGuard.objects.get(rubric=rubric)
    assert guard.judge_state["params"] == {"temperature": 0}

    # Cleared again later: the comparisons were made, nothing is started twice.
    second = services.guard_held_checks_resume(rubric_id=rubric.pk)
    assert {r.pk for r in second} == {r.pk for r in restarted}
    assert DriftReport.objects.filter(rubric=rubric).count() == len(held) + len(comparisons)


def test_held_checks_wait_while_the_judge_is_not_cleared(
    guarded: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin, rubric, judge = members["admin"], guarded["rubric"], guarded["old"]
    v3 = new_version(guarded, "First.")
    judged(v3, judge, guarded["reference"])
    edit_unwatched(judge, admin, position_bias=0.6)
    held = drift_services.guard_checks_start(actor=admin, version=v3)
    with django_capture_on_commit_callbacks(execute=True):
        services.guard_judge_check_now(actor=admin, rubric=rubric)
    check = JudgeDriftReport.objects.get(rubric=rubric)
    assert check.flags  # flagged: not cleared, nothing restarts
    assert services.guard_held_checks_resume(rubric_id=rubric.pk) == []
    assert not DriftReport.objects.filter(trigger=ReportTrigger.JUDGE_CLEARED).exists()

    # The admin's acceptance clears it: the held checks start again once it commits.
    with django_capture_on_commit_callbacks(execute=True):
        services.guard_judge_accept(actor=admin, report=check, reason="The new bias is wanted.")
    restarted = DriftReport.objects.filter(rubric=rubric, trigger=ReportTrigger.JUDGE_CLEARED)
    assert restarted.count() == len(held)
    assert all(r.status != ReportStatus.FAILED for r in restarted)


def test_an_edited_judge_is_checked_on_the_newest_version_it_judged_before_the_edit(
    guarded: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The guard's version (the newest published) was never judged before the edit: the
    check judges v2, which was, rather than failing for want of an old side."""
    admin, rubric, judge = members["admin"], guarded["rubric"], guarded["old"]
    new_version(guarded, "Published before the edit, never judged.")
    edit_unwatched(judge, admin, position_bias=0.6)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.guard_judge_check_now(actor=admin, rubric=rubric)
    assert report.old_version == guarded["v2"]
    report.refresh_from_db()
    assert report.status == JobStatus.READY and report.flags
