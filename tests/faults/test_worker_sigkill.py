"""A worker killed with SIGKILL in the middle of a 5,000-pair run, then restarted.

What is lost with the worker: the chunk it was judging (claimed in the database, its message
unacknowledged at the broker until the visibility timeout). The restarted worker judges every
other chunk; the orphan sweep (called here directly, as beat would call it) releases the dead
worker's claim and re-dispatches it. The run must end with exactly one judgment per pair and
order: no duplicates, no gaps, counters added once.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.judging.models import (
    ChunkStatus,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
)
from apps.judging.services import run_start
from apps.judging.tasks import TEST_DELAY_ENV, sweep_orphaned_runs
from tests.faults.conftest import Evidence, wait_for
from tests.judging.factories import make_judge, make_reference_set, make_version

PAIRS = 5000
CHUNK = 250
# Each chunk waits this long after claiming its items (the test-only knob of the chunk task),
# so the run lasts long enough to kill the worker while a chunk is claimed but not written.
CHUNK_DELAY_S = "0.2"


def _run(pk: int) -> JudgingRun:
    return JudgingRun.objects.get(pk=pk)


@pytest.mark.worker
@pytest.mark.slow
def test_sigkill_mid_run_then_restart_finishes_without_duplicates_or_gaps(
    evidence: Evidence, celery_worker_process: Any, project: Any, settings: Any
) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=PAIRS)
    judge = make_judge(project, params={"chunk_size": CHUNK}, price_in="1", price_out="2")
    first = celery_worker_process(
        queues="default", concurrency=1, **{TEST_DELAY_ENV: CHUNK_DELAY_S}
    )
    run = run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
    chunks = RunChunk.objects.filter(run=run)
    assert run.total == 2 * PAIRS and chunks.count() == 2 * PAIRS // CHUNK

    # Kill once about a third is written, while the next chunk is claimed.
    wait_for(lambda: _run(run.pk).done >= 3000, timeout=180, what="a third of the run written")
    in_flight = wait_for(
        lambda: chunks.filter(status=ChunkStatus.RUNNING).first(),
        timeout=60,
        what="a chunk claimed",
    )
    pool = Path(f"/proc/{first.process.pid}/task/{first.process.pid}/children").read_text()
    first.kill()
    at_kill = _run(run.pk)
    evidence(
        f"injected: SIGKILL to worker pid {first.process.pid} and its pool process(es) "
        f"{', '.join(pool.split())} while chunk "
        f"{in_flight.index} (judgments {in_flight.first_id}..{in_flight.last_id}) was claimed; "
        f"run {run.pk} at {at_kill.done}/{at_kill.total}, status {at_kill.status}"
    )
    assert at_kill.status == RunStatus.RUNNING
    assert 3000 <= at_kill.done < at_kill.total

    # A fresh worker takes the messages still queued; the dead worker's chunk stays claimed.
    celery_worker_process(queues="default", concurrency=1)
    evidence("restarted: a new worker process on the same queue")
    wait_for(
        lambda: not chunks.filter(status=ChunkStatus.PENDING).exists(),
        timeout=180,
        what="every queued chunk taken by the new worker",
    )
    stuck = wait_for(
        lambda: (
            chunks.filter(status=ChunkStatus.RUNNING).count() == 1
            and chunks.filter(status=ChunkStatus.DONE).count() == chunks.count() - 1
            and _run(run.pk)
        ),
        timeout=180,
        what="the new worker done with everything but the orphaned chunk",
    )
    orphan = chunks.get(status=ChunkStatus.RUNNING)
    assert orphan.index == in_flight.index
    assert stuck.status == RunStatus.RUNNING and stuck.done == stuck.total - orphan.size
    evidence(
        f"after restart: {stuck.done}/{stuck.total} written; chunk {orphan.index} still claimed "
        f"by the dead worker, run still {stuck.status}"
    )

    # The sweep beat runs every two minutes; here it is called directly with a short staleness.
    settings.JUDGING_STALE_AFTER_S = 1
    wait_for(
        lambda: _run(run.pk).heartbeat_at < timezone.now() - timedelta(seconds=1.2),
        timeout=10,
        what="the run's heartbeat goes stale",
    )
    outcome = sweep_orphaned_runs()
    evidence(f"sweep: {outcome}")
    assert outcome["resumed"] == [run.pk]
    finished = wait_for(
        lambda: _run(run.pk).is_finished and _run(run.pk), timeout=120, what="the run ends"
    )

    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert (finished.done, finished.failed, finished.total) == (2 * PAIRS, 0, 2 * PAIRS)
    judgments = Judgment.objects.filter(run=run)
    assert judgments.count() == 2 * PAIRS
    assert judgments.filter(status=JudgmentStatus.DONE).count() == 2 * PAIRS
    duplicates = (
        judgments.values("pair_id", "order").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    assert duplicates == 0
    per_pair = judgments.values("pair_id").annotate(
        ab=Count("id", filter=Q(order="AB", status=JudgmentStatus.DONE)),
        ba=Count("id", filter=Q(order="BA", status=JudgmentStatus.DONE)),
    )
    complete = per_pair.filter(ab=1, ba=1).count()
    assert complete == PAIRS == per_pair.count()
    assert set(judgments.values_list("pair_id", flat=True)) == set(
        reference.items.values_list("pair_id", flat=True)
    )
    # The database itself refuses a second judgment for a pair and order.
    sample = judgments.first()
    assert sample is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Judgment.objects.create(run=run, pair_id=sample.pair_id, order=sample.order)
    # Counters were added once per judgment, kill or not.
    totals = judgments.aggregate(tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"))
    assert (finished.tokens_in, finished.tokens_out) == (totals["tokens_in"], totals["tokens_out"])
    assert set(chunks.values_list("status", flat=True)) == {ChunkStatus.DONE}
    orphan.refresh_from_db()
    assert orphan.attempts == 2
    evidence(
        f"verified: run {finished.status}, {judgments.count()} judgments = 2 x {PAIRS} pairs, "
        f"{duplicates} duplicate (pair, order), {complete} pairs with AB and BA done, a second "
        f"insert refused by the unique constraint, tokens {finished.tokens_in}/"
        f"{finished.tokens_out} = sum over judgments, chunk {orphan.index} claimed "
        f"{orphan.attempts} times"
    )
