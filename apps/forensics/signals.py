"""Receivers of drift forensics: a drift alert that opens starts the attribution of its report.

A receiver of the drift app's ``post_save`` rather than a call from the drift app, so drift keeps
knowing nothing of forensics (the import contract puts forensics above drift). The attribution
starts once the alert's transaction commits; ``FORENSICS_AUTO_ATTRIBUTE`` turns this off.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.drift.models import DriftAlert

log = logging.getLogger(__name__)


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
