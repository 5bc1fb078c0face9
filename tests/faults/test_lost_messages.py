"""Every queued message of a run lost, then one worker process with an embedded beat.

The run's chunk messages are dropped from the broker before any worker sees them, as when a
dead worker held them or a broker lost them. The only worker started afterwards has one process
and runs beat itself, so the sweep's own messages share the queue it measures. The sweep must
still see that the run's messages are gone (fewer wait than the run has pending chunks) and
resume it: nobody calls anything by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.core.models import AuditEvent
from apps.judging.models import ChunkStatus, JudgingRun, RunChunk, RunStatus
from apps.judging.services import run_start
from rubricstudio.celery import app
from tests.factories import make_judge, make_reference_set, make_version
from tests.faults.conftest import FAST_LIVENESS, Evidence, require_redis, wait_for

PAIRS = 300
CHUNK = 50


def _run(pk: int) -> JudgingRun:
    return JudgingRun.objects.get(pk=pk)


@pytest.mark.worker
@pytest.mark.slow
def test_a_run_whose_messages_were_lost_is_resumed_by_a_one_process_worker_running_beat(
    evidence: Evidence, celery_worker_process: Any, project: Any, tmp_path: Path
) -> None:
    require_redis(evidence)
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=PAIRS)
    judge = make_judge(project, params={"chunk_size": CHUNK})
    run = run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
    chunks = RunChunk.objects.filter(run=run)
    with app.connection_for_write() as conn:
        dropped = conn.default_channel.queue_purge("default")
    evidence(f"injected: {dropped} chunk messages of run {run.pk} dropped before any worker ran")
    assert dropped == chunks.count() == 2 * PAIRS // CHUNK

    celery_worker_process(
        queues="default",
        concurrency=1,
        extra=["-B", "--schedule", str(tmp_path / "beat-schedule")],
        **FAST_LIVENESS,
    )
    finished = wait_for(
        lambda: _run(run.pk).is_finished and _run(run.pk), timeout=120, what="the run ends"
    )

    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert (finished.done, finished.failed) == (2 * PAIRS, 0)
    assert set(chunks.values_list("status", flat=True)) == {ChunkStatus.DONE}
    resumes = AuditEvent.objects.filter(object_id=str(run.pk), action="run.resume")
    assert resumes.exists()
    evidence(
        f"verified: run {finished.status} with {finished.done}/{finished.total} judgments after "
        f"{resumes.count()} resume(s) by the sweep"
    )
