"""The rubric's drift guard: its settings, its state, and the anchor that moves with promotion."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.permissions import Capability, check_capability
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import ReferenceSet
from apps.drift import selectors
from apps.drift.flags import DriftThresholds
from apps.drift.models import (
    DriftGuard,
)
from apps.drift.services.guard_judge import guard_judge_set
from apps.drift.services.reports import lock_rubric
from apps.judging.models import JudgeConfig
from apps.rubrics.models import Rubric, RubricVersion

# --- the drift guard ----------------------------------------------------------------------------


def rubric_guard_update(
    *,
    actor: Any,
    rubric: Rubric,
    enabled: bool,
    reference_set: ReferenceSet | None,
    judge: JudgeConfig | None,
    min_effect: float,
    tolerance: float,
    alpha: float,
) -> DriftGuard:
    """Set a rubric's drift guard (admins only; audited).

    Thresholds are proportions (0.02 = 2 accuracy points). A guard that is on needs a judge and
    a reference set of the rubric's project. A judge other than the one the guard has is only
    requested (``guard_judge``): checks keep the guard's judge until it is cleared. Reports keep
    the thresholds they were built with. A guard switched on without an anchor takes the
    production version as its anchor (audited as an anchor move); without a production version,
    the first version promoted under the guard becomes the anchor.
    """
    check_capability(actor, rubric.project, Capability.GUARD_EDIT)
    errors: dict[str, list[str]] = {}
    if enabled and reference_set is None:
        errors["reference_set"] = ["A guard that is on needs a reference set."]
    if enabled and judge is None:
        errors["judge"] = ["A guard that is on needs a judge."]
    if reference_set is not None and reference_set.project_id != rubric.project_id:
        errors["reference_set"] = ["That reference set belongs to another project."]
    if judge is not None and judge.project_id != rubric.project_id:
        errors["judge"] = ["That judge belongs to another project."]
    try:
        DriftThresholds(min_effect=min_effect, tolerance=tolerance, alpha=alpha)
    except ValueError as exc:
        errors["thresholds"] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        lock_rubric(rubric.pk)
        guard, _ = DriftGuard.objects.select_for_update().get_or_create(rubric=rubric)
        before = guard_state(guard)
        guard.enabled = enabled
        guard.reference_set = reference_set
        guard_judge_set(guard, judge)
        guard.min_effect = min_effect
        guard.tolerance = tolerance
        guard.alpha = alpha
        guard.save()
        audit_event_record(
            actor=actor,
            action="rubric.guard_update",
            obj=rubric,
            before=before,
            after=guard_state(guard),
        )
        production = selectors.production_version(rubric)
        if guard.enabled and guard.anchor_id is None and production is not None:
            _anchor_write(
                actor=actor,
                guard=guard,
                version=production,
                reason=f"v{production.number} held production when the guard was switched on.",
            )
    return guard


def guard_state(guard: DriftGuard) -> dict[str, Any]:
    """The guard's settings as JSON (for the audit log and the API)."""
    return {
        "enabled": guard.enabled,
        "reference_set": guard.reference_set_id,
        "judge": guard.judge_id,
        "requested_judge": guard.requested_judge_id,
        "min_effect": guard.min_effect,
        "tolerance": guard.tolerance,
        "alpha": guard.alpha,
        "anchor": guard.anchor_id,
        "anchor_number": guard.anchor.number if guard.anchor is not None else None,
        "anchor_reason": guard.anchor_reason,
        "anchor_set_at": guard.anchor_set_at.isoformat() if guard.anchor_set_at else None,
    }


def _anchor_write(*, actor: Any, guard: DriftGuard, version: RubricVersion, reason: str) -> None:
    """Point the guard's anchor at ``version`` and audit it (the caller holds the rubric lock)."""
    before = {
        "anchor": guard.anchor_id,
        "number": guard.anchor.number if guard.anchor is not None else None,
        "reason": guard.anchor_reason,
    }
    guard.anchor = version
    guard.anchor_reason = reason
    guard.anchor_set_by = actor_or_none(actor)
    guard.anchor_set_at = timezone.now()
    guard.save(update_fields=["anchor", "anchor_reason", "anchor_set_by", "anchor_set_at"])
    audit_event_record(
        actor=actor,
        action="drift_guard.anchor_move",
        obj=guard.rubric,
        before=before,
        after={"anchor": version.pk, "number": version.number, "reason": reason},
    )


def guard_anchor_move(
    *, actor: Any, rubric: Rubric, version: RubricVersion, reason: str
) -> DriftGuard:
    """An admin pins the guard's trusted anchor on ``version``, saying why (audited).

    Every guarded candidate is then judged against this version as well as production, so the
    drift of many small edits is measured as a whole from here. Raises ``PermissionDenied`` for
    anyone but a project admin and ``ValidationError`` (naming the field) for a missing reason,
    a draft, or a version of another rubric.
    """
    check_capability(actor, rubric.project, Capability.GUARD_EDIT)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if version.rubric_id != rubric.pk:
        errors["version"] = ["That version belongs to another rubric."]
    elif not version.is_published:
        errors["version"] = [f"v{version.number} is a draft; only a published version can anchor."]
    if not reason:
        errors["reason"] = ["Moving the anchor needs a written reason: say why it is trusted."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        lock_rubric(rubric.pk)
        guard, _ = DriftGuard.objects.select_for_update().get_or_create(rubric=rubric)
        _anchor_write(actor=actor, guard=guard, version=version, reason=reason)
    return guard


def on_label_moved(
    sender: Any,
    rubric: Rubric,
    version: RubricVersion,
    label: str,
    previous: RubricVersion | None,
    actor: Any,
    **kwargs: Any,
) -> None:
    """Receiver of ``apps.rubrics.hooks.label_moved``: the first version promoted to production
    under a guard that has no anchor becomes the anchor (in the promotion's transaction)."""
    if label != selectors.PRODUCTION:
        return
    guard = DriftGuard.objects.select_related("rubric").filter(rubric=rubric).first()
    if guard is None or not guard.enabled or guard.anchor_id is not None:
        return
    _anchor_write(
        actor=actor,
        guard=guard,
        version=version,
        reason=f"v{version.number} is the first version promoted under the guard.",
    )
