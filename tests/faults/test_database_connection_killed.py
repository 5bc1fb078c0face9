"""The worker's PostgreSQL connection terminated in the middle of a chunk.

The worker connects under its own ``application_name``, so the test terminates the worker's
backends only (never its own). The chunk that loses its connection must be retried on a fresh
connection, and the run must end complete, with nothing written twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

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
from tests.conftest import database_url_for_subprocess
from tests.factories import make_judge, make_reference_set, make_version
from tests.faults.conftest import Evidence, require_postgres, wait_for

PAIRS = 300
CHUNK = 50
WORKER_APP_NAME = "rs-fault-worker"


def _run(pk: int) -> JudgingRun:
    return JudgingRun.objects.get(pk=pk)


def _terminate_worker_backends() -> list[int]:
    """Terminate the worker's backends on this database; returns their pids."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s "
            "AND pid <> pg_backend_pid()",
            [WORKER_APP_NAME],
        )
        return [pid for pid, terminated in cursor.fetchall() if terminated]


@pytest.mark.worker
@pytest.mark.slow
def test_connection_terminated_mid_chunk_is_retried_and_the_run_completes(
    evidence: Evidence, celery_worker_process: Any, project: Any
) -> None:
    require_postgres(evidence)
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=PAIRS)
    judge = make_judge(project, params={"chunk_size": CHUNK})
    # Each chunk pauses after its claim: the kill lands between the claim and the write.
    celery_worker_process(
        queues="default",
        concurrency=1,
        DATABASE_URL=f"{database_url_for_subprocess()}?application_name={WORKER_APP_NAME}",
        **{TEST_DELAY_ENV: "1.0"},
    )
    run = run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
    chunks = RunChunk.objects.filter(run=run)

    victims = []
    for target_done in (100, 300):
        wait_for(
            lambda target=target_done: _run(run.pk).done >= target,
            timeout=120,
            what=f"{target_done} judgments written",
        )
        claimed = wait_for(
            lambda: chunks.filter(status=ChunkStatus.RUNNING).order_by("-claimed_at").first(),
            timeout=60,
            what="a chunk claimed",
        )
        pids = wait_for(
            _terminate_worker_backends, timeout=10, what="a worker backend to terminate"
        )
        victims.append(claimed.index)
        evidence(
            f"injected: pg_terminate_backend on worker backend(s) {pids} "
            f"(application_name={WORKER_APP_NAME}) while chunk {claimed.index} was claimed; "
            f"run at {_run(run.pk).done}/{run.total}"
        )

    finished = wait_for(
        lambda: _run(run.pk).is_finished and _run(run.pk), timeout=180, what="the run ends"
    )
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert (finished.done, finished.failed) == (2 * PAIRS, 0)
    judgments = Judgment.objects.filter(run=run)
    assert judgments.filter(status=JudgmentStatus.DONE).count() == 2 * PAIRS
    duplicates = (
        judgments.values("pair_id", "order").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    assert duplicates == 0
    assert set(chunks.values_list("status", flat=True)) == {ChunkStatus.DONE}
    retried = {c.index: c.attempts for c in chunks.filter(index__in=victims)}
    assert all(attempts >= 2 for attempts in retried.values()), retried
    evidence(
        f"verified: run {finished.status} with {finished.done}/{finished.total} done, "
        f"0 failed, {duplicates} duplicates; the interrupted chunks were claimed again "
        f"(index: attempts) {retried}"
    )
