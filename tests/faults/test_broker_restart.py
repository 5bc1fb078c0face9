"""The broker (Redis) killed in the middle of a run and started again, empty.

A private ``redis-server`` without persistence stands in for the broker, so the machine's shared
Redis is never touched. Killing it loses every queued chunk message: the worker reconnects once
it is back, but nothing is left to deliver, and the run would stay ``running`` for ever. The
orphan sweep (beat's task, called here directly) re-dispatches what is still pending once a
worker consumes the queue again. A run that no worker takes waits, says why, and continues when a
worker comes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Count
from django.utils import timezone

from apps.core.liveness import forget_queue_states
from apps.judging.models import ChunkStatus, JudgingRun, Judgment, RunChunk, RunStatus
from apps.judging.selectors import run_waiting
from apps.judging.services import run_start, runs_sweep_orphaned
from apps.judging.tasks import TEST_DELAY_ENV
from tests.factories import make_judge, make_reference_set, make_version
from tests.faults.conftest import Evidence, PrivateRedis, wait_for

PAIRS = 600
CHUNK = 50


def _tasks_in_hand(worker_log: str) -> int:
    """Chunk tasks the worker has received and not yet ended, read from its log (INFO)."""
    received = re.findall(r"judge_chunk\[([^\]]+)\] received", worker_log)
    ended = re.findall(r"judge_chunk\[([^\]]+)\] (?:succeeded|raised|retry)", worker_log)
    return len(set(received) - set(ended))


def _run(pk: int) -> JudgingRun:
    return JudgingRun.objects.get(pk=pk)


def _stale(pk: int, seconds: float) -> bool:
    heartbeat = _run(pk).heartbeat_at
    return heartbeat is not None and heartbeat < timezone.now() - timedelta(seconds=seconds)


@pytest.mark.worker
@pytest.mark.slow
def test_broker_restart_mid_run_then_sweep_finishes_it(
    evidence: Evidence,
    private_redis: PrivateRedis,
    celery_worker_process: Any,
    project: Any,
    settings: Any,
) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=PAIRS)
    judge = make_judge(project, params={"chunk_size": CHUNK})
    worker = celery_worker_process(
        queues="default", concurrency=1, REDIS_URL=private_redis.url, **{TEST_DELAY_ENV: "0.3"}
    )
    run = run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
    chunks = RunChunk.objects.filter(run=run)
    total_chunks = chunks.count()

    wait_for(lambda: _run(run.pk).done >= 200, timeout=120, what="200 judgments written")
    queued = private_redis.queued("default")
    private_redis.kill()
    at_kill = _run(run.pk)
    evidence(
        f"injected: SIGKILL to the broker (private redis-server, port {private_redis.port}, no "
        f"persistence) with {queued} chunk messages queued; run {run.pk} at "
        f"{at_kill.done}/{at_kill.total}"
    )
    # Whatever the worker held finishes (a message it had received but not yet claimed too);
    # then nothing moves while the broker is away.
    wait_for(
        lambda: (
            _tasks_in_hand(worker.log_path.read_text()) == 0
            and not chunks.filter(status=ChunkStatus.RUNNING).exists()
        ),
        timeout=60,
        what="the chunks in flight written",
    )
    stalled = _run(run.pk).done
    private_redis.start()
    evidence(f"broker started again on the same port, empty; run stalled at {stalled}")
    wait_for(
        lambda: worker.log_path.read_text().count("Connected to redis://") >= 2,
        timeout=90,
        what="the worker reconnected to the broker",
    )
    assert _run(run.pk).done == stalled and _run(run.pk).status == RunStatus.RUNNING
    pending = chunks.filter(status=ChunkStatus.PENDING).count()
    evidence(
        f"worker reconnected; the run is still {_run(run.pk).status} at {stalled}/{run.total} "
        f"with {pending} chunks pending and their messages gone"
    )
    assert pending > 0

    settings.LIVENESS_STALE_AFTER_S = 2
    wait_for(lambda: _stale(run.pk, 2.2), timeout=10, what="the run's heartbeat goes stale")
    outcome = runs_sweep_orphaned()
    evidence(f"sweep: {outcome} (re-dispatched {pending} pending chunks)")
    assert outcome == {"released": [], "resumed": [run.pk], "waiting": [], "failed": []}
    finished = wait_for(
        lambda: _run(run.pk).is_finished and _run(run.pk), timeout=120, what="the run ends"
    )
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert (finished.done, finished.failed) == (2 * PAIRS, 0)
    judgments = Judgment.objects.filter(run=run)
    duplicates = (
        judgments.values("pair_id", "order").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    assert judgments.count() == 2 * PAIRS and duplicates == 0
    assert chunks.filter(status=ChunkStatus.DONE).count() == total_chunks
    evidence(
        f"verified: run {finished.status}, {finished.done}/{finished.total} judgments, "
        f"{duplicates} duplicates, all {total_chunks} chunks done"
    )

    # A run whose queue no worker consumes waits, and says why; it is neither failed nor sent
    # again, and it continues as soon as a worker takes its queue.
    worker.stop()
    forget_queue_states()
    small = make_reference_set(project, n_pairs=10, name="Orphaned")
    orphan = run_start(actor=None, rubric_version=version, judge=judge, reference_set=small)
    settings.LIVENESS_STALE_AFTER_S = 0
    outcomes = [runs_sweep_orphaned() for _ in range(3)]
    orphan.refresh_from_db()
    reason = run_waiting(orphan)
    evidence(f"no worker: sweeps gave {outcomes}; run {orphan.pk} is {orphan.status}: {reason}")
    assert all(outcome["waiting"] == [orphan.pk] for outcome in outcomes)
    assert orphan.status == RunStatus.QUEUED and orphan.resumes == 0
    assert reason is not None and "no worker is consuming the `default` queue" in reason
    celery_worker_process(queues="default", concurrency=1, REDIS_URL=private_redis.url)
    done = wait_for(
        lambda: _run(orphan.pk).is_finished and _run(orphan.pk), timeout=120, what="it ends"
    )
    evidence(f"a worker on its queue again: run {orphan.pk} {done.status}, {done.done} judgments")
    assert (done.status, done.done, done.failed) == (RunStatus.SUCCEEDED, 20, 0)
