"""Running a red-team job in this process, cancelling it, and resuming jobs whose worker died."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.services import audit_event_record
from apps.redteam.models import ACTIVE_JOB_STATUSES, JobStatus, RedTeamJob
from apps.redteam.services.state import JobNotActive, step_dispatch
from apps.redteam.services.steps import job_step


def job_execute(*, job: RedTeamJob) -> RedTeamJob:
    """Run every step of ``job`` in this process (the command line; no worker needed)."""
    for _ in range(job.generations + 10):
        outcome = job_step(job_id=job.pk, dispatch=False)
        if outcome in ("done", "cancelled", "failed", "skipped"):
            break
    job.refresh_from_db()
    return job


def job_cancel(*, actor: Any, job: RedTeamJob) -> RedTeamJob:
    """Ask the job to stop: the step in flight finishes, the next one ends it as cancelled."""
    with transaction.atomic():
        changed = RedTeamJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
            cancel_requested=True
        )
        if not changed:
            raise JobNotActive(f"Red team {job.pk} has already ended ({job.status}).")
        # A job that nobody holds ends now; one in a step ends when that step returns.
        RedTeamJob.objects.filter(pk=job.pk, claimed_at__isnull=True).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), stop_reason="cancelled"
        )
        audit_event_record(
            actor=actor, action="redteam.cancel", obj=job, before={"status": job.status}
        )
    job.refresh_from_db()
    return job


def jobs_sweep_stale(*, stale_after: timedelta | None = None) -> list[int]:
    """Re-dispatch active jobs whose heartbeat is older than ``stale_after`` (a dead worker).

    A step beats when it is claimed and when it writes, and outlives neither its hard time limit
    nor its process, so a stale heartbeat means nobody is working on the job: its claim is
    dropped and its next step sent again. The step redoes the unfinished unit from its seed.
    """
    if stale_after is None:
        stale_after = timedelta(seconds=settings.REDTEAM_STALE_AFTER_S)
    cutoff = timezone.now() - stale_after
    resumed = []
    for job in RedTeamJob.objects.filter(status__in=ACTIVE_JOB_STATUSES, heartbeat_at__lt=cutoff):
        with transaction.atomic():
            changed = RedTeamJob.objects.filter(pk=job.pk, heartbeat_at__lt=cutoff).update(
                claimed_at=None, heartbeat_at=timezone.now()
            )
            if not changed:
                continue
            audit_event_record(
                actor=None, action="redteam.resume", obj=job, after={"generation": job.generation}
            )
            transaction.on_commit(partial(step_dispatch, job_id=job.pk))
        resumed.append(job.pk)
    return resumed
