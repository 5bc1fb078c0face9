"""Telling people about drift alerts: a signed JSON webhook per project, and e-mail to admins.

Webhook messages are signed with HMAC-SHA256 over the exact body bytes; the key comes from the
environment variable ``RUBRICSTUDIO_WEBHOOK_SECRET`` and is never stored in the database. The
signature travels in ``X-RubricStudio-Signature: sha256=<hex>``. A receiver recomputes it over
the raw body and compares in constant time (``verify_signature``).

Each message is a ``WebhookDelivery`` row; the task ``drift.webhook_deliver`` makes the attempts
(exponential backoff with full jitter between them) and every attempt updates the row, so the
alert page shows failures. The URL must be allowed by the operator's egress policy, checked
again at each attempt and on the address connected to (``apps.core.egress``). A 4xx answer
other than 408/429 means the receiver refuses this message and retrying would not help: the
delivery fails at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from celery import signature
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Membership, Role
from apps.core import egress
from apps.drift import explain
from apps.drift.models import DeliveryStatus, DriftAlert, WebhookDelivery

log = logging.getLogger(__name__)

SECRET_ENV = "RUBRICSTUDIO_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
SIGNATURE_HEADER = "X-RubricStudio-Signature"
EVENT_HEADER = "X-RubricStudio-Event"
DELIVERY_HEADER = "X-RubricStudio-Delivery"
TIMEOUT_S = 10.0
RETRYABLE_4XX = frozenset({408, 425, 429})

ALERT_OPENED = "alert.opened"
ALERT_RESOLVED = "alert.resolved"


# --- pure parts ---------------------------------------------------------------------------------


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` is the right signature of ``body`` (constant-time comparison)."""
    if not header:
        return False
    return hmac.compare_digest(sign(body, secret), header)


def _absolute(path: str) -> str:
    base = str(getattr(settings, "RUBRICSTUDIO_BASE_URL", "") or "").rstrip("/")
    return f"{base}{path}" if base else path


def alert_path(alert: DriftAlert) -> str:
    """The alert's page in the studio (a path; absolute when RUBRICSTUDIO_BASE_URL is set)."""
    return _absolute(
        reverse("drift:alert", kwargs={"project": alert.project.slug, "alert": alert.pk})
    )


def alert_payload(alert: DriftAlert, *, event: str, delivery: int | None = None) -> dict[str, Any]:
    """The JSON message about an alert (the webhook body, also the e-mail's facts)."""
    version = alert.version
    return {
        "event": event,
        "delivery": delivery,
        "project": {"id": alert.project_id, "slug": alert.project.slug},
        "alert": {
            "id": alert.pk,
            "status": alert.status,
            "severity": alert.severity,
            "headline": alert.headline,
            "reason": alert.reason,
            "resolved_by": alert.resolved_by.get_username() if alert.resolved_by else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "created_at": alert.created_at.isoformat() if alert.created_at else None,
            "url": alert_path(alert),
        },
        "rubric": {"id": alert.rubric_id, "name": alert.rubric.name},
        "version": {"id": version.pk, "number": version.number},
        "report": {
            "id": alert.report_id,
            "flags": [
                {"kind": f.get("kind"), "domain": f.get("domain"), "message": f.get("message")}
                for f in alert.report.flags
            ],
        },
        "sent_at": timezone.now().isoformat(),
    }


# --- dispatch -----------------------------------------------------------------------------------


def alert_notify(*, alert_id: int, event: str) -> list[int]:
    """Queue every notification of an alert event: the webhook message (when the project has a
    webhook URL) and the e-mail to the project's admins. Returns the new deliveries' ids.

    Call after the alert's change has committed (``transaction.on_commit``). The tasks are
    named, not imported: ``tasks`` imports this module (``DriftConfig.ready`` registers them).
    """
    alert = DriftAlert.objects.select_related(
        "project", "rubric", "version", "report", "resolved_by"
    ).get(pk=alert_id)
    created: list[int] = []
    url = alert.project.webhook_url
    if url:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                project=alert.project, alert=alert, event=event, url=url, payload={}
            )
            delivery.payload = alert_payload(alert, event=event, delivery=delivery.pk)
            delivery.save(update_fields=["payload"])
            transaction.on_commit(signature("drift.webhook_deliver", args=(delivery.pk,)).delay)
        created.append(delivery.pk)
    if email_configured() and admin_emails(alert):
        transaction.on_commit(signature("drift.alert_email", args=(alert.pk, event)).delay)
    return created


# --- one webhook attempt ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt did: ``retry`` says whether another attempt could help."""

    delivered: bool
    retry: bool
    response_code: int | None = None
    error: str = ""


def webhook_attempt(*, delivery_id: int) -> Attempt:
    """POST the delivery's message once and record the attempt on its row."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        return Attempt(delivered=delivery is not None, retry=False)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        # An unsigned message cannot be trusted by the receiver; refuse to send one at all.
        outcome = Attempt(
            delivered=False, retry=False, error=f"{SECRET_ENV} is not set; nothing was sent."
        )
        _record(delivery, outcome, final=True)
        return outcome
    # The URL as the row holds it now (it may have changed since the message was queued), then
    # every address connected to: refused deliveries fail at once, and nothing is sent.
    refused = egress.webhook_url_problem(delivery.url)
    if refused is not None:
        outcome = Attempt(
            delivered=False, retry=False, error=f"Refused: {refused} Nothing was sent."
        )
        _record(delivery, outcome, final=True)
        return outcome
    body = webhook_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "RubricStudio-Webhook/1",
        SIGNATURE_HEADER: sign(body, secret),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
    }
    try:
        with egress.sync_http_client(timeout=TIMEOUT_S) as client:
            response = client.post(
                delivery.url, content=body, headers=headers, follow_redirects=False
            )
    except egress.EgressRefused as exc:
        outcome = Attempt(
            delivered=False, retry=False, error=f"Refused: {exc}. Nothing was sent."[:2000]
        )
    except httpx.HTTPError as exc:
        outcome = Attempt(delivered=False, retry=True, error=f"{type(exc).__name__}: {exc}"[:2000])
    else:
        code = response.status_code
        if 200 <= code < 300:
            outcome = Attempt(delivered=True, retry=False, response_code=code)
        else:
            retryable = code >= 500 or code in RETRYABLE_4XX
            outcome = Attempt(
                delivered=False,
                retry=retryable,
                response_code=code,
                error=f"HTTP {code}: {response.text[:500]}",
            )
    _record(delivery, outcome, final=not outcome.retry)
    return outcome


def webhook_give_up(*, delivery_id: int, reason: str) -> None:
    """Mark a delivery failed after its last retry."""
    WebhookDelivery.objects.filter(pk=delivery_id).exclude(status=DeliveryStatus.DELIVERED).update(
        status=DeliveryStatus.FAILED, last_error=reason[:2000]
    )


def _record(delivery: WebhookDelivery, outcome: Attempt, *, final: bool) -> None:
    now = timezone.now()
    if outcome.delivered:
        status = DeliveryStatus.DELIVERED
    elif final:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.RETRYING
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1,
        status=status,
        response_code=outcome.response_code,
        last_error=outcome.error,
        last_attempt_at=now,
        delivered_at=now if outcome.delivered else None,
    )


# --- e-mail -------------------------------------------------------------------------------------


def email_configured() -> bool:
    """Whether Django's mail settings can send: any non-SMTP backend (console in development,
    memory in tests), or SMTP with an ``EMAIL_HOST``."""
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    if backend.endswith("smtp.EmailBackend"):
        return bool(getattr(settings, "EMAIL_HOST", ""))
    return not backend.endswith("dummy.EmailBackend")


def admin_emails(alert: DriftAlert) -> list[str]:
    """E-mail addresses of the project's admins (members without an address are skipped)."""
    emails = Membership.objects.filter(project_id=alert.project_id, role=Role.ADMIN).values_list(
        "user__email", flat=True
    )
    return sorted({email for email in emails if email})


def alert_email_send(*, alert_id: int, event: str) -> int:
    """Send the alert e-mail to the project's admins through Django's mail settings.

    Returns the number of messages sent (0 when no admin has an address).
    """
    alert = DriftAlert.objects.select_related(
        "project", "rubric", "version", "report", "resolved_by"
    ).get(pk=alert_id)
    recipients = admin_emails(alert)
    if not recipients:
        return 0
    name = f"{alert.rubric.name} v{alert.version.number}"
    if event == ALERT_RESOLVED:
        who = alert.resolved_by.get_username() if alert.resolved_by else "an admin"
        subject = f"[Rubric Studio] Drift alert on {name} {alert.status} by {who}"
    else:
        subject = f"[Rubric Studio] {alert.severity.capitalize()} drift alert on {name}"
    lines = [
        f"Project: {alert.project.name}",
        f"Rubric: {name}",
        f"Severity: {alert.severity}",
        f"Status: {alert.status}",
        f"Headline: {alert.headline}",
    ]
    if alert.reason:
        lines.append(f"Reason: {alert.reason}")
    lines += ["", *explain.summary_lines(alert.report.stats, alert.report.flags), ""]
    lines.append(f"Review it: {alert_path(alert)}")
    return send_mail(
        subject=subject[:200],
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
