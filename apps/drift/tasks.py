"""Celery entry points of the drift app (queue ``default``): thin wrappers that call services.

``drift.await_report_runs`` waits for a report's two runs without holding a worker: each call
looks once, builds the report when both runs have ended, and otherwise schedules itself again
with a growing countdown (2 s, 4 s, ... up to a minute). The drift sweep (beat,
``drift_reports_sweep``) builds any pending report whose runs have ended, in case such a message
was lost.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from apps.drift import notifications, services

log = logging.getLogger(__name__)

POLL_FIRST_S = 2
POLL_MAX_S = 60
WEBHOOK_RETRIES = int(settings.DRIFT_WEBHOOK_RETRIES)
WEBHOOK_BACKOFF_FACTOR_S = 2
WEBHOOK_BACKOFF_MAX_S = 600
EMAIL_RETRIES = 3


def poll_countdown(retries: int) -> int:
    """Seconds before the next look at a report's runs: doubling from 2 s, at most a minute."""
    return int(min(POLL_MAX_S, POLL_FIRST_S * 2 ** min(retries, 10)))


@shared_task(
    name="drift.await_report_runs", bind=True, max_retries=None, acks_late=True, ignore_result=True
)
def await_report_runs(self: Task, report_id: int) -> Any:
    """Build the report once both runs have ended; otherwise look again later."""
    state = services.drift_report_advance(report_id=report_id)
    if state != services.WAITING:
        return state
    if self.request.is_eager:
        # An eager retry would run again at once, forever; the sweep or the caller builds it.
        return state
    return self.retry(countdown=poll_countdown(self.request.retries), throw=False)


@shared_task(
    name="drift.webhook_deliver",
    bind=True,
    max_retries=WEBHOOK_RETRIES,
    acks_late=True,
    ignore_result=True,
)
def webhook_deliver(self: Task, delivery_id: int) -> Any:
    """One attempt to deliver a webhook message; retried with backoff and jitter when it fails."""
    outcome = notifications.webhook_attempt(delivery_id=delivery_id)
    if outcome.delivered or not outcome.retry:
        return outcome.delivered
    retries = self.request.retries
    if retries >= WEBHOOK_RETRIES:
        notifications.webhook_give_up(
            delivery_id=delivery_id,
            reason=f"gave up after {retries + 1} attempts; last: {outcome.error}",
        )
        return False
    countdown = get_exponential_backoff_interval(
        factor=WEBHOOK_BACKOFF_FACTOR_S,
        retries=retries,
        maximum=WEBHOOK_BACKOFF_MAX_S,
        full_jitter=True,
    )
    log.warning(
        "webhook delivery %s failed (%s); retry in %ss", delivery_id, outcome.error, countdown
    )
    # Returned, not raised: an eager call (tests) runs the retry only when the task returns it.
    return self.retry(countdown=countdown, throw=False)


@shared_task(name="drift.alert_email", bind=True, max_retries=EMAIL_RETRIES, ignore_result=True)
def alert_email(self: Task, alert_id: int, event: str) -> Any:
    """E-mail the project's admins about an alert event."""
    try:
        return notifications.alert_email_send(alert_id=alert_id, event=event)
    except OSError as exc:  # SMTP and socket errors
        countdown = get_exponential_backoff_interval(
            factor=30, retries=self.request.retries, maximum=900, full_jitter=True
        )
        return self.retry(exc=exc, countdown=countdown, throw=False)
