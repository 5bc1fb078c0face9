"""Alert decisions: approving, blocking or acknowledging what a report flagged."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.permissions import Capability, check_capability
from apps.core.services import actor_or_none, audit_event_record
from apps.drift import notifications
from apps.drift.models import AlertStatus, DriftAlert
from apps.drift.services.reports import lock_rubric, notify

DECISIONS: dict[str, AlertStatus] = {
    "approve": AlertStatus.APPROVED,
    "block": AlertStatus.BLOCKED,
    "acknowledge": AlertStatus.ACKNOWLEDGED,
}


# --- alerts -------------------------------------------------------------------------------------


def alert_resolve(*, actor: Any, alert: DriftAlert, decision: str, reason: str) -> DriftAlert:
    """An admin's decision on an alert: ``approve`` (needs a written reason), ``block`` or
    ``acknowledge``. Audited and notified. Only *approve* lets the version reach production.

    Raises ``PermissionDenied`` for anyone but a project admin and ``ValidationError`` for an
    unknown decision or an approval without a reason. A later decision replaces an earlier one
    (block first, approve once fixed), and each is in the audit log.
    """
    check_capability(actor, alert.project, Capability.ALERT_RESOLVE)
    if decision not in DECISIONS:
        raise ValidationError({"decision": [f"Choose one of {', '.join(DECISIONS)}."]})
    reason = (reason or "").strip()
    if decision == "approve" and not reason:
        raise ValidationError(
            {"reason": ["Approving a drift alert needs a written reason: say why it is safe."]}
        )
    with transaction.atomic():
        # The rubric first, as a promotion does: a decision and a promotion of one rubric
        # never interleave, so a promotion sees the alert either before or after it.
        lock_rubric(alert.rubric_id)
        locked = DriftAlert.objects.select_for_update().get(pk=alert.pk)
        before = {"status": locked.status, "reason": locked.reason}
        locked.status = DECISIONS[decision]
        locked.reason = reason
        locked.resolved_by = actor_or_none(actor)
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "reason", "resolved_by", "resolved_at"])
        audit_event_record(
            actor=actor,
            action=f"drift_alert.{decision}",
            obj=locked,
            before=before,
            after={
                "status": locked.status,
                "reason": reason,
                "version": locked.version_id,
                "report": locked.report_id,
            },
        )
        transaction.on_commit(
            partial(notify, alert_id=locked.pk, event=notifications.ALERT_RESOLVED)
        )
    return locked
