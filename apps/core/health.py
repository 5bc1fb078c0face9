"""Liveness of the two things every request and run depends on: the database and the broker."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from rubricstudio.celery import app as celery_app


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


def _broker_ok() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many kinds; all mean "down"
        return f"error: {type(exc).__name__}"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    """200 with ``{"database": "ok", "broker": "ok"}``, or 503 naming what failed."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
