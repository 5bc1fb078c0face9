"""A real Celery worker picks up a task dispatched after commit; the stale-work sweep runs on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import transaction

from apps.core.models import WorkerHeartbeat
from apps.core.tasks import worker_heartbeat
from tests.conftest import wait_until


@pytest.mark.worker
def test_task_dispatched_on_commit_runs_in_a_real_worker(celery_worker_process: Any) -> None:
    worker = celery_worker_process(queues="default")
    token = uuid.uuid4().hex
    with transaction.atomic():
        transaction.on_commit(lambda: worker_heartbeat.delay(token))
        # Nothing is sent before the transaction commits.
        assert not WorkerHeartbeat.objects.filter(token=token).exists()
    beat = wait_until(lambda: WorkerHeartbeat.objects.filter(token=token).first(), timeout=60)
    assert beat.hostname
    assert worker.process.poll() is None, "worker should still be running"
    print(f"real worker picked up the task; log at {worker.log_path.name}")


def test_one_failing_sweep_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.core import liveness

    ran: list[str] = []

    def broken() -> object:
        ran.append("broken")
        raise RuntimeError("boom")

    def fine() -> object:
        ran.append("fine")
        return ["done"]

    sweeps = {"broken": broken, "fine": fine}
    monkeypatch.setattr(liveness, "_sweeps", {})
    for name, sweep in sweeps.items():
        liveness.register_sweep(name, sweep)
    assert liveness.sweeps_run() == {"broken": None, "fine": ["done"]}
    assert ran == ["broken", "fine"]
