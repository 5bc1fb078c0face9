"""Bookkeeping tasks of the core app."""

from __future__ import annotations

import socket

from celery import shared_task

from apps.core.liveness import sweeps_run
from apps.core.models import WorkerHeartbeat


@shared_task(name="core.worker_heartbeat", ignore_result=True)
def worker_heartbeat(token: str) -> None:
    """Record that a worker picked up work (used by health checks and the worker test)."""
    WorkerHeartbeat.objects.create(token=token[:64], hostname=socket.gethostname()[:200])


@shared_task(name="core.sweep_stale_work", ignore_result=True)
def sweep_stale_work() -> dict[str, object]:
    """Every app's sweep of work nobody does any more (beat schedule, ``apps.core.liveness``)."""
    return sweeps_run()
