"""The guard watching its judge: when a guard is given a new judge, or its judge config is
edited in place, a judge drift report compares old and new judge on the guard's version and
snapshot before the new one checks anything; an admin may accept a flagged new judge.

The drift app asks whether a new judge is cleared through its registry (``apps.drift.hooks``);
``selectors.guard_judge_clearance`` answers, from the reports made here.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.permissions import Capability, check_capability
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import ReferenceSet
from apps.drift import hooks
from apps.drift import services as drift_services
from apps.drift.models import DriftGuard, DriftReport
from apps.forensics.models import JobStatus, JudgeDriftReport, JudgeDriftTrigger
from apps.forensics.selectors import (
    guard_version,
    guard_version_before_edit,
    report_decides_guard_judge,
)
from apps.forensics.services.judge_drift import judge_drift_start
from apps.judging.models import JudgeConfig
from apps.rubrics.models import Rubric

log = logging.getLogger(__name__)


def guard_judge_change_check(
    *,
    actor: Any,
    rubric: Rubric,
    old_judge: JudgeConfig | None,
    new_judge: JudgeConfig | None,
    reference_set: ReferenceSet | None,
    in_place: bool = False,
    execute: bool = False,
) -> JudgeDriftReport | None:
    """When a guard's judge changes, compare the old and the new judge on the guard's snapshot
    with the guard's version before the new judge is used (trigger ``guard``).

    ``in_place`` compares one config before and after its last edit (old and new judge are
    then the same config), on the guard's version if the config judged it before the edit,
    else on the newest published version it did. Returns None when there is nothing to
    compare: no old or new judge, the same judge not edited, no reference set, or no
    published version. ``actor`` is recorded, not checked: the guard's own edit is where the
    permission is checked.
    """
    if old_judge is None or new_judge is None:
        return None
    if old_judge.pk == new_judge.pk and not in_place:
        return None
    if reference_set is None:
        return None
    version = (
        guard_version_before_edit(rubric, new_judge, reference_set)
        if in_place
        else guard_version(rubric)
    )
    if version is None:
        return None
    return judge_drift_start(
        actor=actor,
        old_version=version,
        old_judge=old_judge,
        new_judge=new_judge,
        reference_set=reference_set,
        trigger=JudgeDriftTrigger.GUARD,
        execute=execute,
    )


def guard_judge_change_check_by_ids(
    *,
    rubric_id: int,
    old_judge_id: int,
    new_judge_id: int,
    reference_set_id: int,
    in_place: bool = False,
) -> JudgeDriftReport | None:
    """``guard_judge_change_check`` for the ``forensics.guard_judge_check`` task (ids in).

    A check that cannot be made (an edited config with no finished run from before its edit)
    is logged: the guard keeps waiting, and its page says no report has run.
    """
    rubric = Rubric.objects.filter(pk=rubric_id).first()
    old_judge = JudgeConfig.objects.filter(pk=old_judge_id).first()
    new_judge = JudgeConfig.objects.filter(pk=new_judge_id).first()
    reference_set = ReferenceSet.objects.filter(pk=reference_set_id).first()
    if rubric is None:
        return None
    try:
        return guard_judge_change_check(
            actor=None,
            rubric=rubric,
            old_judge=old_judge,
            new_judge=new_judge,
            reference_set=reference_set,
            in_place=in_place,
        )
    except ValidationError as exc:
        log.warning(
            "the judge check of rubric %s's guard could not start: %s",
            rubric_id,
            "; ".join(exc.messages),
        )
        return None


def guard_judge_change_dispatch(
    *,
    rubric: Rubric,
    old_judge: JudgeConfig | None,
    new_judge: JudgeConfig | None,
    reference_set: ReferenceSet | None,
    in_place: bool = False,
) -> bool:
    """For the guard's edit (or its judge config's edit in place, ``in_place``): once it
    commits, check the new judge against the old one (task ``forensics.guard_judge_check``).
    Returns whether a check was scheduled."""
    if old_judge is None or new_judge is None or reference_set is None:
        return False
    if old_judge.pk == new_judge.pk and not in_place:
        return False
    from apps.forensics import tasks

    transaction.on_commit(
        partial(
            tasks.guard_judge_check.delay,
            rubric.pk,
            old_judge.pk,
            new_judge.pk,
            reference_set.pk,
            in_place,
        )
    )
    return True


def guard_judge_watched_edit(*, judge: JudgeConfig) -> int:
    """A judge config's model, endpoint or answer-shaping parameters were edited in place: for
    every guard that judges with it, compare it before and after the edit; for every guard that
    requested it, compare the guard's judge with it as it is now. Returns the checks scheduled.
    """
    scheduled = 0
    guards = DriftGuard.objects.select_related("rubric", "judge", "reference_set").filter(
        Q(judge=judge) | Q(requested_judge=judge)
    )
    for guard in guards:
        if guard.requested_judge_id == judge.pk:
            old, in_place = guard.judge, False
        else:
            old, in_place = judge, True
        scheduled += guard_judge_change_dispatch(
            rubric=guard.rubric,
            old_judge=old,
            new_judge=judge,
            reference_set=guard.reference_set,
            in_place=in_place,
        )
    return scheduled


def guard_judge_check_now(*, actor: Any, rubric: Rubric) -> JudgeDriftReport:
    """An admin asks for the guard's judge check now ("Check the guard's judge now" on the guard
    page): the judge in use against the requested one, or the judge edited in place before and
    after its edit, for when no report exists (the check could not start when the edit was
    made, or the guard was set before judges were watched). Raises ``PermissionDenied`` for
    anyone but a project admin, ``ValidationError`` when there is no new judge to check or the
    check cannot be made (the reason, e.g. no finished run from before the edit)."""
    check_capability(actor, rubric.project, Capability.GUARD_EDIT)
    guard = (
        DriftGuard.objects.select_related("judge", "requested_judge", "reference_set")
        .filter(rubric=rubric)
        .first()
    )
    judge = guard.judge if guard is not None else None
    if guard is None or judge is None:
        raise ValidationError({"judge": ["The guard has no judge to check."]})
    if guard.requested_judge is not None:
        new_judge, in_place = guard.requested_judge, False
    elif guard.judge_state and guard.judge_state != hooks.judge_identity(judge):
        new_judge, in_place = judge, True
    else:
        raise ValidationError(
            {"judge": [f"{judge} is the guard's cleared judge: there is no new judge to check."]}
        )
    report = guard_judge_change_check(
        actor=actor,
        rubric=rubric,
        old_judge=judge,
        new_judge=new_judge,
        reference_set=guard.reference_set,
        in_place=in_place,
    )
    if report is None:
        raise ValidationError(
            {"judge": ["The guard needs a reference set and a published version to check on."]}
        )
    return report


def guard_held_checks_resume(*, rubric_id: int) -> list[DriftReport]:
    """The guard's new judge may be cleared (a report without flags, or an admin's acceptance):
    start again the guard's checks that failed waiting for it (the drift app's
    ``guard_held_checks_restart``; nothing while the judge still waits)."""
    return drift_services.guard_held_checks_restart(rubric_id=rubric_id)


def guard_held_checks_resume_on_commit(report: JudgeDriftReport) -> None:
    """Once the clearing write commits, resume the checks that waited for the guard's judge."""
    from apps.forensics import tasks

    transaction.on_commit(partial(tasks.guard_judge_cleared.delay, report.rubric_id))


def guard_judge_accept(*, actor: Any, report: JudgeDriftReport, reason: str) -> JudgeDriftReport:
    """An admin accepts the new judge of a guard's judge drift report despite its flags, or
    after its check failed, saying why (audited ``judge_drift.accept``). The guard adopts the
    judge at its next check. Raises ``PermissionDenied`` for anyone but a project admin and
    ``ValidationError`` for a missing reason or a report with nothing to accept (still
    running, ready without a flag: that one clears the judge by itself, or neither started by
    the guard nor the report that decides its pending judge). Once it commits, the guard's
    checks that waited for the judge start again.
    """
    check_capability(actor, report.project, Capability.GUARD_EDIT)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if report.status == JobStatus.PENDING:
        errors["report"] = [f"Judge drift report {report.pk} is still running."]
    elif report.status == JobStatus.READY and not report.flags:
        errors["report"] = [
            f"Judge drift report {report.pk} raised no flag: it clears the new judge by itself."
        ]
    elif report.is_accepted:
        errors["report"] = [f"Judge drift report {report.pk} is accepted already."]
    elif report.trigger != JudgeDriftTrigger.GUARD and not report_decides_guard_judge(report):
        errors["report"] = [
            f"Judge drift report {report.pk} does not compare the guard's judge with the judge "
            "it waits for: there is nothing to accept for the guard."
        ]
    if not reason:
        errors["reason"] = ["Accepting a new judge needs a written reason: say why it is fit."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = JudgeDriftReport.objects.select_for_update().get(pk=report.pk)
        locked.accepted_by = actor_or_none(actor)
        locked.accepted_at = timezone.now()
        locked.acceptance_reason = reason
        locked.save(update_fields=["accepted_by", "accepted_at", "acceptance_reason"])
        audit_event_record(
            actor=actor,
            action="judge_drift.accept",
            obj=locked,
            after={
                "reason": reason,
                "old_judge": locked.old_judge_id,
                "new_judge": locked.new_judge_id,
                "flags": [f"{f['cause']}:{f['kind']}" for f in locked.flags],
                "status": locked.status,
            },
        )
        guard_held_checks_resume_on_commit(locked)
    return locked
