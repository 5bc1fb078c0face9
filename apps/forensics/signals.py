"""Receivers of drift forensics, connected in ``ForensicsConfig.ready()``.

Receivers of the lower apps' model signals rather than calls from them, so drift and judging
keep knowing nothing of forensics (the import contract puts forensics above them):

* a drift alert that opens starts the attribution of its report once the alert's transaction
  commits (``FORENSICS_AUTO_ATTRIBUTE`` turns this off);
* a guard given a new judge (``DriftGuard.requested_judge`` set or changed) starts the judge
  drift check of its judge against the new one once the edit commits;
* a judge config whose model, endpoint or answer-shaping parameters are edited in place starts
  the check for every guard that judges with it (before and after the edit) or requested it;
* a drift report that becomes ready starts, once it commits, the 2 x 2 that splits its causes
  when its judge moved between its runs (``FORENSICS_AUTO_JUDGE_SPLIT`` turns this off).

``pre_save`` reads what the row held before, ``post_save`` compares: a save that changes
neither (an anchor move, a price edit) starts nothing.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from apps.drift.hooks import judge_identity
from apps.drift.models import DriftAlert, DriftGuard, DriftReport, ReportStatus
from apps.judging.models import JudgeConfig

log = logging.getLogger(__name__)

# Where pre_save leaves what the row held before, for post_save.
_BEFORE = "_forensics_before"


@receiver(post_save, sender=DriftAlert, dispatch_uid="forensics.attribute_new_alert")
def attribute_new_alert(sender: Any, instance: DriftAlert, created: bool, **kwargs: Any) -> None:
    """Schedule the attribution of a new alert's report."""
    if not created or not settings.FORENSICS_AUTO_ATTRIBUTE:
        return
    transaction.on_commit(partial(_start, report_id=instance.report_id))


def _start(*, report_id: int) -> None:
    from apps.forensics import services

    # Forensics must never disturb the alert that asked for it.
    try:
        services.attribution_auto_start(report_id=report_id)
    except Exception:
        log.exception("the attribution of drift report %s could not start", report_id)


@receiver(post_save, sender=DriftReport, dispatch_uid="forensics.split_ready_report")
def split_ready_report(sender: Any, instance: DriftReport, **kwargs: Any) -> None:
    """Schedule the split of a report that became ready (the task looks whether its judge
    moved: cheap, and outside the build's transaction)."""
    if not settings.FORENSICS_AUTO_JUDGE_SPLIT or instance.status != ReportStatus.READY:
        return
    if not _touches(kwargs, "status"):
        return
    from apps.forensics import tasks

    transaction.on_commit(partial(tasks.drift_report_judge_split.delay, instance.pk))


def _touches(kwargs: dict[str, Any], *fields: str) -> bool:
    update_fields = kwargs.get("update_fields")
    return update_fields is None or any(field in update_fields for field in fields)


@receiver(pre_save, sender=DriftGuard, dispatch_uid="forensics.guard_judge_before")
def guard_judge_before(sender: Any, instance: DriftGuard, **kwargs: Any) -> None:
    """Remember the judge the guard had requested before this save."""
    before = None
    if instance.pk is not None and _touches(kwargs, "requested_judge"):
        before = (
            DriftGuard.objects.filter(pk=instance.pk)
            .values_list("requested_judge_id", flat=True)
            .first()
        )
    setattr(instance, _BEFORE, before)


@receiver(post_save, sender=DriftGuard, dispatch_uid="forensics.guard_judge_requested")
def guard_judge_requested(sender: Any, instance: DriftGuard, **kwargs: Any) -> None:
    """A new judge was requested: check it against the guard's judge once the edit commits."""
    if not _touches(kwargs, "requested_judge") or instance.requested_judge_id is None:
        return
    if instance.requested_judge_id == getattr(instance, _BEFORE, None):
        return
    from apps.forensics import services

    services.guard_judge_change_dispatch(
        rubric=instance.rubric,
        old_judge=instance.judge,
        new_judge=instance.requested_judge,
        reference_set=instance.reference_set,
    )


@receiver(pre_save, sender=JudgeConfig, dispatch_uid="forensics.judge_config_before")
def judge_config_before(sender: Any, instance: JudgeConfig, **kwargs: Any) -> None:
    """Remember what the config answered with before this save."""
    previous = None
    if instance.pk is not None and _touches(kwargs, "backend", "model", "base_url", "params"):
        previous = JudgeConfig.objects.filter(pk=instance.pk).first()
    setattr(instance, _BEFORE, judge_identity(previous) if previous is not None else None)


@receiver(post_save, sender=JudgeConfig, dispatch_uid="forensics.judge_config_edited")
def judge_config_edited(sender: Any, instance: JudgeConfig, created: bool, **kwargs: Any) -> None:
    """An edit in place that changes how the config answers is a new judge for its guards."""
    before = getattr(instance, _BEFORE, None)
    if created or before is None or before == judge_identity(instance):
        return
    from apps.forensics import services

    services.guard_judge_watched_edit(judge=instance)
