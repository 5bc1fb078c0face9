"""Writes shared by every app: the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.core.models import AuditEvent


def actor_or_none(actor: Any) -> Any:
    """The user to store as author of a row: ``actor`` when signed in, else None (a command
    run without a user, an anonymous caller)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def audit_event_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    project: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log (call inside the transaction of the change it records)."""
    if project is None:
        project = getattr(obj, "project", None)
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        project=project,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        before=before,
        after=after,
    )
