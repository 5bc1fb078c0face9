"""Alert notifications: signed webhooks against a real loopback HTTP receiver, retries, e-mail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from apps.drift import notifications, services, tasks
from apps.drift.models import DeliveryStatus, DriftAlert, WebhookDelivery
from tests.drift.factories import MASKED, make_scenario

pytestmark = pytest.mark.django_db

SECRET = "test-webhook-secret-1234"


class Receiver:
    """A loopback HTTP server that answers with scripted status codes and records requests."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"receiver says no")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/drift"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(codes: list[int]) -> Receiver:
        receiver = Receiver(codes)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def _open_alert(project: Any, capture: Any) -> DriftAlert:
    scenario = make_scenario(project, MASKED)
    with capture(execute=True):
        report = services.drift_report_create(
            actor=None,
            baseline_run=scenario.baseline_run,
            candidate_run=scenario.candidate_run,
        )
    report.refresh_from_db()
    return report.alert


def test_signature_helpers_round_trip() -> None:
    body = notifications.webhook_body({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    header = notifications.sign(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert notifications.verify_signature(body, header, SECRET)
    assert not notifications.verify_signature(body + b" ", header, SECRET)
    assert not notifications.verify_signature(body, header, "another secret")
    assert not notifications.verify_signature(body, None, SECRET)


def test_alert_opened_webhook_is_signed_and_retried_until_delivered(
    project: Any,
    receiver_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setenv(notifications.SECRET_ENV, SECRET)
    receiver = receiver_factory([500, 503, 200])
    project.webhook_url = receiver.url
    project.save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get(alert=alert)
    assert delivery.event == notifications.ALERT_OPENED
    assert delivery.attempts == 3
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.response_code == 200
    assert delivery.delivered_at is not None
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        # The receiver checks each message the way a real one would: HMAC over the raw body.
        signature = request["headers"][notifications.SIGNATURE_HEADER]
        assert notifications.verify_signature(request["body"], signature, SECRET)
        assert request["headers"][notifications.EVENT_HEADER] == "alert.opened"
    message = json.loads(receiver.requests[-1]["body"])
    assert message["event"] == "alert.opened"
    assert message["delivery"] == delivery.pk
    assert message["alert"]["id"] == alert.pk
    assert message["alert"]["headline"] == alert.headline
    assert message["alert"]["severity"] == "high"
    assert message["version"]["number"] == 2
    assert {f["kind"] for f in message["report"]["flags"]} == {"domain_drift", "masked_drift"}
    assert SECRET not in json.dumps(delivery.payload)


def test_resolve_sends_a_second_message_with_the_decision(
    project: Any,
    members: dict[str, Any],
    receiver_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setenv(notifications.SECRET_ENV, SECRET)
    receiver = receiver_factory([])
    project.webhook_url = receiver.url
    project.save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.alert_resolve(
            actor=members["admin"], alert=alert, decision="block", reason="Not this one."
        )
    assert [json.loads(r["body"])["event"] for r in receiver.requests] == [
        "alert.opened",
        "alert.resolved",
    ]
    resolved = json.loads(receiver.requests[-1]["body"])["alert"]
    assert resolved["status"] == "blocked"
    assert resolved["reason"] == "Not this one."
    assert resolved["resolved_by"] == members["admin"].username


def test_a_refusing_receiver_fails_at_once_and_the_alert_page_shows_it(
    project: Any,
    members: dict[str, Any],
    client: Any,
    receiver_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setenv(notifications.SECRET_ENV, SECRET)
    receiver = receiver_factory([404])
    project.webhook_url = receiver.url
    project.save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(alert=alert)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, 404)
    assert "HTTP 404" in delivery.last_error
    client.force_login(members["viewer"])
    page = client.get(reverse("drift:alert", kwargs={"project": project.slug, "alert": alert.pk}))
    html = page.content.decode()
    assert "Webhook deliveries (1)" in html
    assert "HTTP 404: receiver says no" in html


def test_a_receiver_that_never_answers_well_is_given_up_after_the_retries(
    project: Any,
    receiver_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setenv(notifications.SECRET_ENV, SECRET)
    receiver = receiver_factory([500] * 20)
    project.webhook_url = receiver.url
    project.save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(alert=alert)
    assert delivery.attempts == tasks.WEBHOOK_RETRIES + 1
    assert delivery.status == DeliveryStatus.FAILED
    assert "gave up after" in delivery.last_error
    assert len(receiver.requests) == tasks.WEBHOOK_RETRIES + 1


def test_without_a_secret_nothing_is_sent(
    project: Any,
    receiver_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.delenv(notifications.SECRET_ENV, raising=False)
    receiver = receiver_factory([])
    project.webhook_url = receiver.url
    project.save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(alert=alert)
    assert delivery.status == DeliveryStatus.FAILED
    assert notifications.SECRET_ENV in delivery.last_error
    assert receiver.requests == []


def test_an_unreachable_receiver_is_retried(
    project: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setenv(notifications.SECRET_ENV, SECRET)
    monkeypatch.setattr(tasks, "WEBHOOK_RETRIES", 1)
    closed = Receiver([])
    url = closed.url
    closed.close()  # nothing listens on this port any more
    project.webhook_url = url
    project.save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(alert=alert)
    assert delivery.attempts == 2
    assert delivery.status == DeliveryStatus.FAILED
    assert "ConnectError" in delivery.last_error


def test_admins_get_an_email_on_open_and_on_resolve(
    project: Any,
    members: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    members["admin"].email = "admin@example.org"
    members["admin"].save()
    members["author"].email = "author@example.org"  # not an admin: no mail
    members["author"].save()
    alert = _open_alert(project, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists()  # no webhook URL on the project
    assert len(mail.outbox) == 1
    opened = mail.outbox[0]
    assert opened.to == ["admin@example.org"]
    assert "High drift alert" in opened.subject
    assert alert.headline in opened.body
    assert f"/alerts/{alert.pk}/" in opened.body
    with django_capture_on_commit_callbacks(execute=True):
        services.alert_resolve(
            actor=members["admin"], alert=alert, decision="approve", reason="Reviewed: fine."
        )
    assert len(mail.outbox) == 2
    assert "approved by admin1" in mail.outbox[1].subject
    assert "Reviewed: fine." in mail.outbox[1].body


def test_email_follows_the_mail_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    assert not notifications.email_configured()
    settings.EMAIL_HOST = "mail.example.org"
    assert notifications.email_configured()
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert notifications.email_configured()
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    assert not notifications.email_configured()
