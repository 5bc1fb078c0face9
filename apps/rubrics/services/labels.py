"""Labels: pointing a label at a published version once every promotion check agrees."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.core.api import Conflict
from apps.core.services import actor_or_none, audit_event_record
from apps.rubrics import hooks
from apps.rubrics.models import (
    Rubric,
    RubricLabel,
    RubricVersion,
)
from apps.rubrics.services.validation import DEFAULT_LABEL


def rubric_label_move(
    *, actor: Any, rubric: Rubric, version: RubricVersion, label: str = DEFAULT_LABEL
) -> RubricLabel:
    """Point ``label`` (``production``...) at a published version, if every promotion check agrees.

    The one place that decides a promotion: the API, the pages and the admin all call it. The
    rubric's row is locked first, so promotions and the drift decisions that take the same lock
    (approve, block) on one rubric happen one after the other; the checks
    (``hooks.register_promotion_check``) and the move share one transaction, so nothing can
    change between "allowed" and "moved". Raises ``Conflict`` (409) with the reason when the
    version is not published or a check refuses; a refusal is audited.
    """
    label = slugify(label)[:40]
    if not label:
        raise ValidationError({"label": ["Name the label, such as production."]})
    if version.rubric_id != rubric.pk:
        raise ValidationError({"version": ["That version belongs to another rubric."]})
    with transaction.atomic():
        locked = Rubric.objects.select_for_update().get(pk=rubric.pk)
        version = RubricVersion.objects.get(pk=version.pk)
        if not version.is_published:
            raise Conflict(
                {
                    "detail": f"v{version.number} is a draft; publish it before labelling it "
                    f"{label}.",
                    "code": "draft",
                }
            )
        existing = (
            RubricLabel.objects.select_for_update()
            .select_related("version")
            .filter(rubric=locked, name=label)
            .first()
        )
        production_label = (
            existing
            if label == DEFAULT_LABEL
            else RubricLabel.objects.select_related("version")
            .filter(rubric=locked, name=DEFAULT_LABEL)
            .first()
        )
        production = production_label.version if production_label is not None else None
        refusal = hooks.promotion_refusal(
            rubric=locked, version=version, label=label, production=production
        )
        if refusal is None:
            return _label_point(
                actor=actor, rubric=locked, version=version, label=label, existing=existing
            )
    # Refused: the transaction is over and the lock released, so a follow-up (a drift check
    # started because production moved) can commit and dispatch its own work.
    if refusal.follow_up is not None:
        refusal = refusal.follow_up()
    audit_event_record(
        actor=actor,
        action="rubric.promote_refused",
        obj=rubric,
        after={
            "label": label,
            "version": version.number,
            "version_id": version.pk,
            "reason": refusal.reason,
            "code": refusal.code,
        },
    )
    raise Conflict(refusal.payload())


def _label_point(
    *,
    actor: Any,
    rubric: Rubric,
    version: RubricVersion,
    label: str,
    existing: RubricLabel | None,
) -> RubricLabel:
    """Move (or create) the label, announce it and audit it; inside the promotion's transaction."""
    previous = existing.version if existing is not None else None
    before = {"label": label, "version": previous.number} if previous is not None else None
    if existing is None:
        moved = RubricLabel.objects.create(
            rubric=rubric, name=label, version=version, moved_by=actor_or_none(actor)
        )
    else:
        existing.version = version
        existing.moved_by = actor_or_none(actor)
        existing.save()
        moved = existing
    hooks.label_moved.send(
        sender=Rubric, rubric=rubric, version=version, label=label, previous=previous, actor=actor
    )
    audit_event_record(
        actor=actor,
        action="rubric.promote",
        obj=rubric,
        before=before,
        after={"label": label, "version": version.number, "version_id": version.pk},
    )
    return moved
