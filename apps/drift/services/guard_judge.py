"""The guard's judge: holding a replacement until it is cleared, and adopting it.

A guard that already judges with a config and is given another keeps the one it has and
records the other as requested. Before each check (``guard_judge_for_check``) the guard asks
the clearance registry (``apps.drift.hooks``) about the requested judge, or about its own judge
when that config was edited in place since it was cleared:

* cleared: the guard adopts the judge (audited, with the clearance's reason) and checks with it;
* a requested judge that is not cleared: the check runs with the judge the guard had, which
  still answers as it did when it was cleared;
* its own judge edited in place and not cleared: the earlier config no longer exists, so there
  is no old judge to fall back on and the check waits (``ValidationError`` with the reason;
  ``drift_check_start`` turns it into a failed report that says so).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.services import audit_event_record
from apps.drift import hooks
from apps.drift.models import DriftGuard
from apps.judging.models import JudgeConfig


def guard_judge_set(guard: DriftGuard, judge: JudgeConfig | None) -> None:
    """Apply the judge an admin chose to ``guard`` (unsaved): the first judge, or none, is taken
    at once; another one than the guard's is requested; the guard's own judge cancels a request.
    """
    if judge is None or guard.judge_id is None:
        guard.judge = judge
        guard.judge_state = hooks.judge_identity(judge) if judge is not None else {}
        guard.requested_judge = None
        guard.judge_requested_at = None
    elif judge.pk == guard.judge_id:
        guard.requested_judge = None
        guard.judge_requested_at = None
    elif judge.pk != guard.requested_judge_id:
        guard.requested_judge = judge
        guard.judge_requested_at = timezone.now()


def _adopt(guard: DriftGuard, judge: JudgeConfig, clearance: hooks.JudgeClearance) -> None:
    """Make ``judge`` the guard's judge as it is now (audited with the clearance)."""
    with transaction.atomic():
        locked = DriftGuard.objects.select_for_update().get(pk=guard.pk)
        before = {
            "judge": locked.judge_id,
            "judge_state": locked.judge_state,
            "requested_judge": locked.requested_judge_id,
        }
        locked.judge = judge
        locked.judge_state = hooks.judge_identity(judge)
        if locked.requested_judge_id == judge.pk:
            locked.requested_judge = None
            locked.judge_requested_at = None
        locked.save(update_fields=["judge", "judge_state", "requested_judge", "judge_requested_at"])
        audit_event_record(
            actor=None,
            action="drift_guard.judge_adopt",
            obj=guard.rubric,
            before=before,
            after={"judge": judge.pk, "judge_state": locked.judge_state, **clearance.payload()},
        )
    guard.judge, guard.judge_state = locked.judge, locked.judge_state
    guard.requested_judge, guard.judge_requested_at = None, None


def guard_judge_waits(guard: DriftGuard) -> bool:
    """Whether the guard's next check would wait (see ``guard_judge_for_check``): its own judge
    was edited in place and is not cleared, and no cleared requested judge replaces it."""
    requested = guard.requested_judge
    if requested is not None and hooks.judge_clearance(guard, requested).cleared:
        return False
    judge = guard.judge
    if judge is None or not guard.judge_state or guard.judge_state == hooks.judge_identity(judge):
        return False
    return not hooks.judge_clearance(guard, judge).cleared


def guard_judge_for_check(*, guard: DriftGuard) -> JudgeConfig | None:
    """The judge the guard's next check uses, after adopting a cleared new judge (see the
    module docstring). Raises ``ValidationError`` while the guard's own judge, edited in place,
    waits for clearance."""
    if guard.requested_judge is not None:
        clearance = hooks.judge_clearance(guard, guard.requested_judge)
        if clearance.cleared:
            _adopt(guard, guard.requested_judge, clearance)
            return guard.judge
    judge = guard.judge
    if judge is None or guard.judge_state == hooks.judge_identity(judge):
        return judge
    if not guard.judge_state:
        # A guard set before judges were watched: what its judge is now is what it cleared.
        # Bookkeeping, not a decision, so it is not audited.
        guard.judge_state = hooks.judge_identity(judge)
        DriftGuard.objects.filter(pk=guard.pk).update(judge_state=guard.judge_state)
        return judge
    clearance = hooks.judge_clearance(guard, judge)
    if clearance.cleared:
        _adopt(guard, judge, clearance)
        return judge
    raise ValidationError(
        {
            "judge": [
                f"The guard's judge {judge.name} was edited in place and waits for clearance "
                f"before it checks a version: {clearance.reason}"
            ]
        }
    )
