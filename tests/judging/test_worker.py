"""Real worker processes: a run survives a worker killed in the middle of a chunk."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Sum

from apps.core.liveness import stale_cutoff
from apps.judging import services
from apps.judging.models import (
    ChunkStatus,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
)
from apps.judging.tasks import TEST_DELAY_ENV
from tests.conftest import wait_until
from tests.factories import make_judge, make_reference_set, make_version


def _run(pk: int) -> JudgingRun:
    return JudgingRun.objects.get(pk=pk)


@pytest.mark.worker
@pytest.mark.slow
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(
    celery_worker_process: Any, project: Any, settings: Any
) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=300)
    judge = make_judge(project, params={"chunk_size": 50}, price_in="1", price_out="1")
    # Each chunk waits after claiming its items, so the kill lands inside a claimed chunk.
    # A short stale window, here and in the workers, so the dead worker's claim goes silent soon.
    settings.LIVENESS_STALE_AFTER_S = 1
    liveness = {"LIVENESS_HEARTBEAT_S": "0.2", "LIVENESS_STALE_AFTER_S": "1"}
    first = celery_worker_process(
        queues="default", concurrency=1, **{TEST_DELAY_ENV: "0.8"}, **liveness
    )
    run = services.run_start(
        actor=None, rubric_version=version, judge=judge, reference_set=reference
    )
    assert run.total == 600 and RunChunk.objects.filter(run=run).count() == 12

    wait_until(lambda: _run(run.pk).done >= 100, timeout=120)
    # Wait for the next chunk to be claimed, then kill the worker in the middle of it.
    wait_until(
        lambda: RunChunk.objects.filter(run=run, status=ChunkStatus.RUNNING).exists(), timeout=60
    )
    first.kill()
    stuck = _run(run.pk)
    assert stuck.status == RunStatus.RUNNING and 100 <= stuck.done < 600
    assert RunChunk.objects.filter(run=run, status=ChunkStatus.RUNNING).count() == 1
    pending_at_kill = Judgment.objects.filter(run=run, status=JudgmentStatus.PENDING).count()
    assert pending_at_kill == 600 - stuck.done

    # A new worker and a resume: the orphaned chunk is released and everything still pending is
    # dispatched again (the messages left in the queue arrive too and find nothing to do).
    celery_worker_process(queues="default", concurrency=1, **liveness)
    # Nobody beats the dead worker's claim any more: once it is silent, resume releases it.
    wait_until(
        lambda: RunChunk.objects.filter(
            run=run, status=ChunkStatus.RUNNING, claimed_at__lt=stale_cutoff()
        ).exists(),
        timeout=30,
    )
    redispatched = services.run_resume(run=stuck)
    assert 1 <= redispatched <= 12 - stuck.done // 50
    finished = wait_until(lambda: _run(run.pk).is_finished and _run(run.pk), timeout=180)

    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert (finished.done, finished.failed, finished.total) == (600, 0, 600)
    judgments = Judgment.objects.filter(run=run)
    assert judgments.count() == 600
    assert judgments.filter(status=JudgmentStatus.DONE).count() == 600
    duplicates = (
        judgments.values("pair_id", "order").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    assert duplicates == 0
    # Counters were added exactly once per judgment, crash or not.
    totals = judgments.aggregate(tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"))
    assert finished.tokens_in == totals["tokens_in"]
    assert finished.tokens_out == totals["tokens_out"]
    assert set(RunChunk.objects.filter(run=run).values_list("status", flat=True)) == {
        ChunkStatus.DONE
    }
    # The chunk killed in flight was claimed twice: once by each worker.
    assert RunChunk.objects.filter(run=run, attempts=2).count() >= 1
