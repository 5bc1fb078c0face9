"""One step of a red-team job (one Celery task each): claim the job, do its next unit of work,
dispatch the next step."""

from __future__ import annotations

import logging
import time
from functools import partial

from django.db import transaction
from django.utils import timezone

from apps.redteam.models import JobStatus, Phase, RedTeamJob
from apps.redteam.services.pairs import job_pairs
from apps.redteam.services.report import report_step
from apps.redteam.services.searching import generation_step, search_stop, seed_step
from apps.redteam.services.selection import select_step
from apps.redteam.services.state import claim, finish, release, step_dispatch

log = logging.getLogger(__name__)


def job_step(*, job_id: int, pause_s: float = 0.0, dispatch: bool = True) -> str:
    """Do the job's next unit of work; safe to call any number of times.

    Returns what happened: ``skipped`` (claimed elsewhere or ended), ``cancelled``, the phase
    that was worked on, or ``done``. ``pause_s`` waits after claiming (the resume test only).
    """
    job = claim(job_id)
    if job is None:
        return "skipped"
    if job.cancel_requested:
        finish(job, JobStatus.CANCELLED, stop_reason="cancelled")
        return "cancelled"
    if job.status == JobStatus.QUEUED:
        RedTeamJob.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING, started_at=timezone.now()
        )
    if pause_s > 0:
        time.sleep(pause_s)
    try:
        outcome = _advance(job)
    except Exception as exc:
        log.exception("red team %s failed", job.pk)
        finish(job, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return "failed"
    if outcome != "done" and dispatch:
        transaction.on_commit(partial(step_dispatch, job_id=job.pk))
    return outcome


def _advance(job: RedTeamJob) -> str:
    splits = job_pairs(job)
    if job.phase == Phase.SEARCH:
        if job.generation < 0:
            seed_step(job, splits["train"])
            return "search"
        stop = search_stop(job)
        if stop:
            release(job, phase=Phase.SELECT, stop_reason=stop)
            return "search"
        generation_step(job, splits["train"])
        return "search"
    if job.phase == Phase.SELECT:
        select_step(job, splits["val"])
        return "select"
    if job.phase == Phase.REPORT:
        report_step(job, splits["test"])
        return "done"
    release(job)
    return "done"
