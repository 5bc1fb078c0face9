"""/healthz answers 200 when the database and the broker answer, 503 naming the one that failed."""

from __future__ import annotations

from typing import Any

import pytest

from rubricstudio.celery import app


@pytest.mark.django_db
def test_healthz_ok(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_reports_a_broker_that_does_not_answer(client: Any, monkeypatch: Any) -> None:
    # Point the broker at a closed loopback port: a real connection attempt that fails. The
    # health check opens a connection of its own, so the shared producer pool is left alone:
    # closing it would break every later test that dispatches a task.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")
