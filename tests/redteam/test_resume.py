"""A red team whose worker is SIGKILLed in the middle of a generation, then resumed.

The generation in flight is lost with the worker (nothing of it was committed). A new worker
and the stale-job sweep (called here as beat would) take the job up again: it continues after
the last completed generation, keeps the candidates already stored, and ends with exactly the
result an uninterrupted job with the same seed gives.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.redteam import services
from apps.redteam.models import Candidate, JobStatus, RedTeamJob
from apps.redteam.tasks import TEST_DELAY_ENV
from tests.conftest import wait_until
from tests.factories import make_judge
from tests.redteam.factories import demo_rubric_version, redteam_reference_set

# Each step waits this long after claiming the job (the test-only knob of the step task), so
# the kill lands while a generation is claimed but not written.
STEP_DELAY_S = "2"
OPTIONS = {
    "targets": ["harmlessness"],
    "generations": 4,
    "population": 2,
    "children": 2,
    "sample_size": 60,
    "benign_k": 1,
    "seed": 5,
}


def _job(pk: int) -> RedTeamJob:
    return RedTeamJob.objects.get(pk=pk)


def _trace(job: RedTeamJob) -> list[tuple[Any, ...]]:
    return list(
        Candidate.objects.filter(job=job)
        .order_by("kind", "generation", "index")
        .values_list("kind", "generation", "index", "content_hash", "fitness", "val_target")
    )


@pytest.mark.worker
@pytest.mark.slow
def test_killed_worker_then_resume_continues_from_the_last_generation(
    celery_worker_process: Any, project: Any, members: Any
) -> None:
    version = demo_rubric_version(project, members["admin"])
    reference = redteam_reference_set(project, extra=40)
    judge = make_judge(project)
    first = celery_worker_process(queues="default", concurrency=1, **{TEST_DELAY_ENV: STEP_DELAY_S})
    job = services.redteam_start(
        actor=members["admin"],
        rubric_version=version,
        judge=judge,
        reference_set=reference,
        **OPTIONS,
    )
    # Kill once generation 1 is stored and the next step holds the job.
    wait_until(lambda: _job(job.pk).generation >= 1, timeout=120)
    wait_until(lambda: _job(job.pk).claimed_at is not None, timeout=60)
    pool = Path(f"/proc/{first.process.pid}/task/{first.process.pid}/children").read_text()
    first.kill()
    at_kill = _job(job.pk)
    assert pool.split(), "the worker had a pool process"
    assert at_kill.status == JobStatus.RUNNING and at_kill.claimed_at is not None
    kept = {
        c.pk: (c.generation, c.index, c.content_hash)
        for c in Candidate.objects.filter(job=job, generation__lte=at_kill.generation).exclude(
            kind="benign"
        )
    }
    assert at_kill.generation < OPTIONS["generations"]

    celery_worker_process(queues="default", concurrency=1)
    wait_until(lambda: _job(job.pk).heartbeat_at < timezone.now() - timedelta(seconds=1.5))
    resumed = services.jobs_sweep_stale(stale_after=timedelta(seconds=1))
    assert resumed == [job.pk]
    finished = wait_until(lambda: _job(job.pk).is_finished and _job(job.pk), timeout=180)
    assert finished.status == JobStatus.SUCCEEDED, finished.error

    # What was stored before the kill is still there, untouched; nothing was stored twice.
    after = {
        c.pk: (c.generation, c.index, c.content_hash)
        for c in Candidate.objects.filter(job=job, generation__lte=at_kill.generation).exclude(
            kind="benign"
        )
    }
    assert after == kept
    generations = set(
        Candidate.objects.filter(job=job, kind="search").values_list("generation", flat=True)
    )
    assert generations == set(range(1, OPTIONS["generations"] + 1))

    # The same seed without a kill, in this process, gives the same job.
    control = services.job_execute(
        job=services.redteam_start(
            actor=None,
            rubric_version=version,
            judge=judge,
            reference_set=reference,
            dispatch=False,
            **OPTIONS,
        )
    )
    assert _trace(control) == _trace(finished)
    assert control.result.get("test") == finished.result.get("test")
    assert control.best is not None and finished.best is not None
    assert control.best.content_hash == finished.best.content_hash
