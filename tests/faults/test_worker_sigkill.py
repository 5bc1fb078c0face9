"""The whole worker (master and pool) SIGKILLed in the middle of a 5,000-pair run, as when its
machine or container dies, and a new worker with beat started at once.

What is lost with the worker: the chunks its pool processes were judging (claimed in the
database, their messages unacknowledged at the broker until the visibility timeout, far longer
than this test waits). Nobody calls anything by hand: the new worker judges every message still
queued, and its embedded beat runs the sweep, which sees the dead worker's claims silent for the
stale window (a short one, set for this test) and sends those chunks again. The run must end
with exactly one judgment per pair and order: no duplicates, no gaps, counters added once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from apps.core.models import AuditEvent
from apps.judging.models import (
    ChunkStatus,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
)
from apps.judging.services import run_start
from apps.judging.tasks import TEST_DELAY_ENV
from tests.factories import make_judge, make_reference_set, make_version
from tests.faults.conftest import FAST_LIVENESS, Evidence, wait_for

PAIRS = 5000
CHUNK = 250
# Each chunk waits this long after claiming its items (the test-only knob of the chunk task),
# so the run lasts long enough to kill the worker while a chunk is claimed but not written.
CHUNK_DELAY_S = "0.2"


def _run(pk: int) -> JudgingRun:
    return JudgingRun.objects.get(pk=pk)


@pytest.mark.worker
@pytest.mark.slow
def test_whole_worker_sigkilled_mid_run_then_a_new_worker_with_beat_finishes_it_alone(
    evidence: Evidence, celery_worker_process: Any, project: Any, tmp_path: Path
) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=PAIRS)
    judge = make_judge(project, params={"chunk_size": CHUNK}, price_in="1", price_out="2")
    first = celery_worker_process(
        queues="default", concurrency=2, **{TEST_DELAY_ENV: CHUNK_DELAY_S}, **FAST_LIVENESS
    )
    run = run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
    chunks = RunChunk.objects.filter(run=run)
    assert run.total == 2 * PAIRS and chunks.count() == 2 * PAIRS // CHUNK

    # Kill once about a third is written, while chunks are claimed.
    wait_for(lambda: _run(run.pk).done >= 3000, timeout=180, what="a third of the run written")
    wait_for(
        lambda: chunks.filter(status=ChunkStatus.RUNNING).exists(),
        timeout=60,
        what="a chunk claimed",
    )
    pool = Path(f"/proc/{first.process.pid}/task/{first.process.pid}/children").read_text()
    first.kill()
    at_kill = _run(run.pk)
    orphans = {c.index: (c.first_id, c.last_id) for c in chunks.filter(status=ChunkStatus.RUNNING)}
    evidence(
        f"injected: SIGKILL to worker pid {first.process.pid} and its pool process(es) "
        f"{', '.join(pool.split())} with chunks {sorted(orphans)} claimed; run {run.pk} at "
        f"{at_kill.done}/{at_kill.total}, status {at_kill.status}"
    )
    assert at_kill.status == RunStatus.RUNNING
    assert 3000 <= at_kill.done < at_kill.total and orphans

    # A new worker with beat; from here on the test only watches.
    celery_worker_process(
        queues="default",
        concurrency=1,
        extra=["-B", "--schedule", str(tmp_path / "beat-schedule")],
        **FAST_LIVENESS,
    )
    evidence("restarted: a new worker with an embedded beat on the same queue")
    finished = wait_for(
        lambda: _run(run.pk).is_finished and _run(run.pk), timeout=300, what="the run ends"
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
    # The chunks killed in flight finished through stale detection: each was claimed by the dead
    # worker, then again once the sweep sent it back (nobody else could release its claim).
    attempts = dict(chunks.filter(index__in=orphans).values_list("index", "attempts"))
    assert attempts == dict.fromkeys(orphans, 2)
    assert not chunks.exclude(index__in=orphans).filter(attempts__gt=1).exists()
    audited = AuditEvent.objects.filter(object_id=str(run.pk))
    released = audited.filter(action="run.chunks_release").count()
    resumes = audited.filter(action="run.resume").count()
    assert released >= 1
    evidence(
        f"verified: run {finished.status}, {judgments.count()} judgments = 2 x {PAIRS} pairs, "
        f"{duplicates} duplicate (pair, order), {complete} pairs with AB and BA done, a second "
        f"insert refused by the unique constraint, tokens {finished.tokens_in}/"
        f"{finished.tokens_out} = sum over judgments, chunks {attempts} (index: claims) sent "
        f"again by the sweep ({released} audited release(s), {resumes} resume(s))"
    )
