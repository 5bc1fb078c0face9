"""A project's runs and judges, a run's progress and why it waits, its failures, a reusable run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Project
from apps.core import liveness
from apps.datasets.models import ReferenceSet
from apps.judging.models import (
    ACTIVE_RUN_STATUSES,
    JudgeConfig,
    JudgingRun,
    Judgment,
    RunStatus,
)
from apps.judging.routing import chunk_queue_for

# --- lists ------------------------------------------------------------------------------------


def runs_for_project(*, project: Project) -> QuerySet[JudgingRun]:
    """The project's runs, newest first, with what a list shows."""
    return JudgingRun.objects.filter(project=project).select_related(
        "rubric_version__rubric", "judge", "reference_set", "dataset"
    )


def judges_for_project(*, project: Project) -> QuerySet[JudgeConfig]:
    """The project's judge configs, by name."""
    return JudgeConfig.objects.filter(project=project).order_by("name")


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunProgress:
    """Where a run stands: counts, percentage, throughput and the time left."""

    total: int
    done: int
    failed: int
    cached: int
    finished: int
    percent: float
    elapsed_s: float | None
    throughput: float | None  # judgments per second since the run started
    eta_s: float | None
    is_finished: bool


def run_progress(run: JudgingRun) -> RunProgress:
    """Progress of ``run`` from the counters on its row."""
    finished = run.done + run.failed
    percent = 100.0 * finished / run.total if run.total else 0.0
    elapsed = throughput = eta = None
    if run.started_at is not None:
        end = run.finished_at or timezone.now()
        elapsed = max((end - run.started_at).total_seconds(), 0.0)
        if elapsed > 0 and finished:
            throughput = finished / elapsed
            if not run.is_finished:
                eta = max(run.total - finished, 0) / throughput
    return RunProgress(
        total=run.total,
        done=run.done,
        failed=run.failed,
        cached=run.cached,
        finished=finished,
        percent=min(percent, 100.0),
        elapsed_s=elapsed,
        throughput=throughput,
        eta_s=eta,
        is_finished=run.is_finished,
    )


def run_waiting(run: JudgingRun) -> str | None:
    """Why an active run is not moving, or None while a worker beats its heartbeat.

    "no worker has reported for 45 s; no worker is consuming the `api` queue": the heartbeat's
    age, then what Celery's inspection says of the run's queue (cached briefly, it is a
    broadcast). Only asked once the heartbeat has gone silent for the stale window.
    """
    if run.is_finished:
        return None
    silent = liveness.silent_for(run.heartbeat_at or run.created_at, timezone.now())
    if silent is None:
        return None
    return liveness.waiting_reason(
        silent_s=silent, state=liveness.queue_state(chunk_queue_for(run.judge.backend))
    )


# --- failures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFailures:
    """Judgments that failed or came back with an error, grouped by reason."""

    count: int
    reasons: list[tuple[str, int]]
    examples: list[dict[str, Any]]


def run_failures(run: JudgingRun, *, examples: int = 10) -> RunFailures:
    """Failed judgments and invalid answers with an error, most common reasons first."""
    errored = Judgment.objects.filter(run_id=run.pk).exclude(error="")
    reasons = Counter(errored.order_by().values_list("error", flat=True))
    sample = [
        dict(row)
        for row in errored.order_by("pk").values(
            "pk", "pair_id", "order", "status", "error", "attempts"
        )[:examples]
    ]
    return RunFailures(
        count=sum(reasons.values()), reasons=reasons.most_common(10), examples=sample
    )


# --- a run to reuse -----------------------------------------------------------------------------


def reusable_run(
    *, version: Any, judge: JudgeConfig, reference_set: ReferenceSet, active_ok: bool
) -> JudgingRun | None:
    """A run of ``version`` on this judge and snapshot that a comparison can use instead of a
    new one: a succeeded run made after the judge config was last edited; failing that (and
    when ``active_ok``), one still queued or running. Runs with failures are not reused: their
    invalid verdicts would count as wrong answers."""
    runs = JudgingRun.objects.filter(
        rubric_version=version, judge=judge, reference_set=reference_set
    ).order_by("-created_at", "-pk")
    if judge.updated_at is not None:
        runs = runs.filter(created_at__gte=judge.updated_at)
    finished = runs.filter(status=RunStatus.SUCCEEDED).first()
    if finished is not None or not active_ok:
        return finished
    return runs.filter(status__in=ACTIVE_RUN_STATUSES).first()
