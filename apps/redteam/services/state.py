"""A red-team job's row: claiming and releasing it, ending it, what it spent, its next step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.api import Conflict
from apps.core.services import audit_event_record
from apps.judging.accounting import token_cost
from apps.judging.models import Backend
from apps.redteam.models import (
    ACTIVE_JOB_STATUSES,
    Candidate,
    PairVerdict,
    RedTeamJob,
    SpendEntry,
    SpendKind,
)
from apps.redteam.services.judge import Judged
from rubricstudio.celery import app as celery_app

# The step tasks by their registered names (``apps.redteam.tasks``); the name picks the queue
# (settings ``CELERY_TASK_ROUTES``). Named rather than imported: the tasks call these services.
STEP_TASK = "redteam.step"
STEP_TASK_API = "redteam.step_api"


class JobNotActive(Conflict):
    """409: the red-team job has already ended."""

    default_detail = "The red-team job has already ended."
    default_code = "redteam_not_active"


def step_task_name(backend: str) -> str:
    """The step task whose name routes a job of this judge backend to the right queue."""
    return STEP_TASK_API if backend == Backend.OPENAI.value else STEP_TASK


def step_dispatch(*, job_id: int) -> None:
    """Send the job's next step to the queue of its judge (hosted endpoints on ``api``)."""
    backend = RedTeamJob.objects.filter(pk=job_id).values_list("judge__backend", flat=True).first()
    celery_app.tasks[step_task_name(backend or "")].delay(job_id)


def claim(job_id: int) -> RedTeamJob | None:
    """Take the job unless another process holds a claim younger than the hard time limit."""
    now = timezone.now()
    lease = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimed = (
        RedTeamJob.objects.filter(pk=job_id, status__in=ACTIVE_JOB_STATUSES)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease))
        .update(claimed_at=now, heartbeat_at=now)
    )
    if not claimed:
        return None
    return RedTeamJob.objects.select_related(
        "judge", "editor", "rubric_version__rubric", "reference_set", "benchmark_reference_set"
    ).get(pk=job_id)


def release(job: RedTeamJob, **changes: Any) -> None:
    """Drop the job's claim and beat its heartbeat, writing ``changes`` with it."""
    RedTeamJob.objects.filter(pk=job.pk).update(
        claimed_at=None, heartbeat_at=timezone.now(), **changes
    )


def finish(job: RedTeamJob, status: str, **changes: Any) -> None:
    """End the job with ``status`` (audited), writing ``changes`` with it."""
    with transaction.atomic():
        RedTeamJob.objects.filter(pk=job.pk).update(
            status=status, finished_at=timezone.now(), claimed_at=None, **changes
        )
        audit_event_record(
            actor=None, action=f"redteam.{status}", obj=job, after={"candidates": job.candidates}
        )


def verdict_rows(candidate: Candidate, judged: Judged, split: str) -> list[PairVerdict]:
    """The candidate's per-pair verdicts on ``split``, ready to be written."""
    return [
        PairVerdict(
            candidate=candidate,
            pair_id=pk,
            split=split,
            verdict=verdict,
            cached=pk in judged.cached_pairs,
        )
        for pk, verdict in judged.verdicts.items()
    ]


def spend(
    job: RedTeamJob, judged: Judged, *, candidate: Candidate | None, step: str, split: str
) -> None:
    """Add what judging ``candidate`` on ``split`` cost to the job, with its ledger entry (both
    in memory; ``spend_write`` writes them together)."""
    job.judge_calls += judged.fresh_calls
    job.cached_calls += judged.cached_calls
    job.tokens_in += judged.tokens_in
    job.tokens_out += judged.tokens_out
    job.cost = Decimal(job.cost) + judged.cost
    job.pending_spend.append(
        SpendEntry(
            job=job,
            candidate=candidate,
            kind=SpendKind.JUDGE,
            step=step,
            split=split,
            pairs=len(judged.verdicts),
            judge_calls=judged.fresh_calls,
            cached_calls=judged.cached_calls,
            tokens_in=judged.tokens_in,
            tokens_out=judged.tokens_out,
            cost=judged.cost,
        )
    )


def spend_editor(
    job: RedTeamJob, *, candidate: Candidate, step: str, tokens_in: int, tokens_out: int
) -> None:
    """Add one call of the LLM editor (the edit that made ``candidate``) to the job, with its
    ledger entry (in memory, like ``spend``): its tokens, priced at the editor's prices, count in
    the job's tokens and cost as the judge's do."""
    assert job.editor is not None
    cost = token_cost(tokens_in, tokens_out, job.editor.price_in, job.editor.price_out)
    job.editor_calls += 1
    job.tokens_in += tokens_in
    job.tokens_out += tokens_out
    job.cost = Decimal(job.cost) + cost
    job.pending_spend.append(
        SpendEntry(
            job=job,
            candidate=candidate,
            kind=SpendKind.EDITOR,
            step=step,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
        )
    )


def spend_write(job: RedTeamJob) -> dict[str, Any]:
    """Write the step's pending ledger entries and return the job's spend as the fields of an
    update. Call it inside the transaction that writes those fields, after the step's new
    candidates are saved (an entry takes its candidate's id when it is written): the entries
    and the totals are committed, or lost with a failed step, together."""
    pending = job.pending_spend
    SpendEntry.objects.bulk_create(pending)
    pending.clear()
    return {
        "judge_calls": job.judge_calls,
        "cached_calls": job.cached_calls,
        "editor_calls": job.editor_calls,
        "tokens_in": job.tokens_in,
        "tokens_out": job.tokens_out,
        "cost": job.cost,
    }
