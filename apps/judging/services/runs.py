"""Starting runs (checks, work items, chunks, dispatch), cancelling and resuming them, and the
sweep that resumes or fails runs nobody works on."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import Project
from apps.core import liveness
from apps.core.api import Conflict
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet
from apps.judging.accounting import judge_identity
from apps.judging.backends.base import backend_class
from apps.judging.gate import run_check_gate
from apps.judging.models import (
    ChunkStatus,
    JudgeConfig,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
)
from apps.judging.options import judge_options
from apps.judging.prompting import render_messages
from apps.judging.routing import chunk_queue_for, chunk_task_name
from apps.judging.selectors import reusable_run
from apps.judging.services.chunks import chunk_fail
from apps.judging.services.configs import judge_config_errors, judge_mode
from apps.judging.services.finish import ACTIVE_RUN_STATUSES, finalize_if_complete, run_fail
from apps.judging.types import PairText
from apps.rubrics.models import RubricVersion
from rubricstudio.celery import app as celery_app

log = logging.getLogger(__name__)


CHUNK_MIN = 50
CHUNK_MAX = 500
DEFAULT_CHUNK_SIZE = 250


class RunNotActive(Conflict):
    """409: the run has already ended, so it cannot be cancelled or resumed."""

    default_detail = "The run has already ended."
    default_code = "run_not_active"


# How often a chunk task retries a failing chunk before giving it up (its ``max_retries``).
CHUNK_RETRIES = int(settings.JUDGING_CHUNK_RETRIES)


def chunk_size_for(judge: JudgeConfig, requested: int | None = None) -> int:
    """Judgments per chunk: requested, else the judge's ``chunk_size`` param, else the setting.

    Clamped to [50, 500] and made even, so both orders of a pair land in the same chunk (the
    backends analyse a pair's texts once for both).
    """
    raw = requested or judge.params.get("chunk_size") or settings.JUDGING_CHUNK_SIZE
    try:
        size = int(raw)
    except (TypeError, ValueError):
        size = DEFAULT_CHUNK_SIZE
    size = max(CHUNK_MIN, min(CHUNK_MAX, size))
    return size - size % 2


def _check_target(
    *,
    rubric_version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet | None,
    dataset: Dataset | None,
) -> Project:
    errors: dict[str, list[str]] = {}
    if (reference_set is None) == (dataset is None):
        errors["reference_set"] = ["Give either a reference set or a dataset."]
    project = judge.project
    if rubric_version.rubric.project_id != project.pk:
        errors["rubric_version"] = ["The rubric version belongs to another project."]
    target = reference_set if reference_set is not None else dataset
    if target is not None and target.project_id != project.pk:
        errors["reference_set" if reference_set is not None else "dataset"] = [
            "The target belongs to another project."
        ]
    if not rubric_version.is_published:
        errors["rubric_version"] = ["Only published versions can be judged; publish it first."]
    try:
        backend_class(judge.backend)
    except ValueError as exc:
        errors["judge"] = [str(exc)]
    else:
        # A config changed in the admin or the database since its creation.
        policy = judge_config_errors(
            backend=judge.backend,
            model=judge.model,
            api_key_env=judge.api_key_env,
            params=judge.params,
            base_url=judge.base_url,
        )
        if policy:
            details = "; ".join(f"{f}: {' '.join(m)}" for f, m in sorted(policy.items()))
            errors["judge"] = [f"This judge config is refused by the operator's policy: {details}"]
    if not errors:
        try:
            render_messages(
                rubric_version.to_spec(),
                PairText(prompt="p", response_a="a", response_b="b"),
                "AB",
                mode=judge_mode(judge),
                layout=judge_options(judge.params).layout,
            )
        except ValueError as exc:
            errors["rubric_version"] = [f"The rubric cannot be rendered: {exc}"]
    if errors:
        raise ValidationError(errors)
    return project


def _create_work_items(run: JudgingRun) -> int:
    """One pending judgment per pair of the target and order, in one INSERT ... SELECT.

    Rows come out ordered by (pair, order), so the ids of both orders of a pair are adjacent and
    a chunk (an id range) holds whole pairs. No pair is loaded into Python.
    """
    # Identifiers come from model metadata and every value is a query parameter.
    qn = connection.ops.quote_name
    table = qn(Judgment._meta.db_table)
    if run.reference_set_id is not None:
        source = (
            f"SELECT {qn('pair_id')} AS pair_id FROM {qn(ReferenceItem._meta.db_table)} "  # noqa: S608
            f"WHERE {qn('reference_set_id')} = %s"
        )
        source_param = run.reference_set_id
    else:
        source = (
            f"SELECT {qn('id')} AS pair_id FROM {qn(Pair._meta.db_table)} "  # noqa: S608
            f"WHERE {qn('dataset_id')} = %s"
        )
        source_param = int(run.dataset_id or 0)
    columns = (
        "run_id, pair_id, {order}, status, verdict, p_first, rationale, criteria, raw_output, "
        "tokens_in, tokens_out, latency_ms, queue_ms, verdict_source, attempts, error, cached, "
        "cache_key"
    ).format(order=qn("order"))
    sql = (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT %s, src.pair_id, o.ord, %s, '', NULL, '', '{{}}', '', 0, 0, 0, 0, '', 0, '', %s, "
        f"'' "
        f"FROM ({source}) AS src CROSS JOIN (SELECT 'AB' AS ord UNION ALL SELECT 'BA') AS o "
        f"ORDER BY src.pair_id, o.ord"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [run.pk, JudgmentStatus.PENDING, False, source_param])
        return int(cursor.rowcount)


def _create_chunks(run: JudgingRun, size: int) -> list[int]:
    """Split the run's judgments into id ranges of ``size`` (window function, no ids in Python)."""
    qn = connection.ops.quote_name
    sql = (
        "SELECT grp, MIN(id), MAX(id), COUNT(*) FROM ("  # noqa: S608
        f"SELECT {qn('id')} AS id, (ROW_NUMBER() OVER (ORDER BY {qn('id')}) - 1) / %s AS grp "
        f"FROM {qn(Judgment._meta.db_table)} WHERE {qn('run_id')} = %s"
        ") AS numbered GROUP BY grp ORDER BY grp"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [size, run.pk])
        rows = cursor.fetchall()
    RunChunk.objects.bulk_create(
        [
            RunChunk(run=run, index=int(grp), first_id=lo, last_id=hi, size=count)
            for grp, lo, hi, count in rows
        ]
    )
    return [int(grp) for grp, *_ in rows]


def run_start(
    *,
    actor: Any,
    rubric_version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet | None = None,
    dataset: Dataset | None = None,
    purpose: str = "manual",
    use_cache: bool = True,
    chunk_size: int | None = None,
    dispatch: bool = True,
    check_override: str = "",
) -> JudgingRun:
    """Create a run and its pending work items in one transaction; dispatch its chunks on commit.

    A judge whose last check failed is refused (``check_override``) unless ``check_override``
    gives a reason, which is stored on the run and audited.

    ``use_cache=False`` asks the judge again even where an identical request was answered
    before (the repeat run of a noise floor). ``dispatch=False`` leaves the chunks for the
    caller (``run_execute`` judges them in-process). Raises ``ValidationError`` for a target
    that is missing, empty or in another project, an unpublished version, an unknown backend or
    a rubric that cannot be rendered.
    """
    project = _check_target(
        rubric_version=rubric_version, judge=judge, reference_set=reference_set, dataset=dataset
    )
    overridden = run_check_gate(judge=judge, override=check_override)
    size = chunk_size_for(judge, chunk_size)
    with transaction.atomic():
        run = JudgingRun.objects.create(
            project=project,
            rubric_version=rubric_version,
            judge=judge,
            judge_state=judge_identity(judge),
            reference_set=reference_set,
            dataset=dataset,
            purpose=purpose,
            use_cache=use_cache,
            chunk_size=size,
            created_by=actor_or_none(actor),
            heartbeat_at=timezone.now(),
            check_override=check_override.strip() if overridden is not None else "",
        )
        total = _create_work_items(run)
        if total == 0:
            raise ValidationError({"reference_set": ["The target has no pairs to judge."]})
        indexes = _create_chunks(run, size)
        JudgingRun.objects.filter(pk=run.pk).update(total=total)
        run.total = total
        audit_event_record(
            actor=actor,
            action="run.start",
            obj=run,
            after={
                "rubric_version": rubric_version.pk,
                "judge": judge.pk,
                "reference_set": reference_set.pk if reference_set else None,
                "dataset": dataset.pk if dataset else None,
                "total": total,
                "chunks": len(indexes),
                "use_cache": use_cache,
            },
        )
        if overridden is not None:
            audit_event_record(
                actor=actor,
                action="run.check_override",
                obj=run,
                after={"check": overridden.pk, "reason": run.check_override},
            )
        if dispatch:
            transaction.on_commit(partial(chunks_dispatch, run_id=run.pk, backend=judge.backend))
    return run


def chunks_dispatch(*, run_id: int, backend: str, indexes: Iterable[int] | None = None) -> int:
    """Send one task per chunk (all chunks still pending when ``indexes`` is None).

    The task name picks the queue (settings ``CELERY_TASK_ROUTES``): offline judges on
    ``default``, hosted endpoints on ``api``, local models on ``gpu``.
    """
    task = celery_app.tasks[chunk_task_name(backend)]
    if indexes is None:
        indexes = RunChunk.objects.filter(run_id=run_id, status=ChunkStatus.PENDING).values_list(
            "index", flat=True
        )
    count = 0
    for index in indexes:
        task.delay(run_id, index)
        count += 1
    return count


def run_reuse_or_start(
    *,
    actor: Any,
    rubric_version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet,
    purpose: str,
    execute: bool,
) -> tuple[JudgingRun, bool]:
    """The run a comparison needs: one it may reuse (``selectors.reusable_run``), else a new
    one; the flag says it was started here. ``execute``: the caller judges in this process, so
    an active run is not reused and a new one is not dispatched."""
    reused = reusable_run(
        version=rubric_version, judge=judge, reference_set=reference_set, active_ok=not execute
    )
    if reused is not None:
        return reused, False
    run = run_start(
        actor=actor,
        rubric_version=rubric_version,
        judge=judge,
        reference_set=reference_set,
        purpose=purpose,
        dispatch=not execute,
    )
    return run, True


# --- cancelling and resuming ------------------------------------------------------------------


def run_cancel(*, actor: Any, run: JudgingRun) -> JudgingRun:
    """Stop a run: chunks not yet started do nothing; chunks in flight finish and are kept."""
    with transaction.atomic():
        now = timezone.now()
        changed = JudgingRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES).update(
            cancel_requested=True, status=RunStatus.CANCELLED, finished_at=now
        )
        if not changed:
            raise RunNotActive(f"Run {run.pk} has already ended ({run.status}).")
        audit_event_record(actor=actor, action="run.cancel", obj=run, before={"status": run.status})
    run.refresh_from_db()
    return run


def run_resume(*, run: JudgingRun, actor: Any = None) -> int:
    """Re-dispatch the chunks of a waiting run that still have work; returns their number.

    For a run whose worker died or whose messages the broker lost; anyone who may start runs can
    ask for it (the run page, ``POST /api/runs/{id}/resume/``), and the sweep does it on its own.
    Only claims that have gone silent for the stale window are released: a chunk whose worker
    still beats its claim keeps it, so resuming a healthy run judges nothing twice. Pending
    chunks are sent again even if their message may still be queued somewhere: the second
    message finds the chunk claimed or done and does nothing.
    """
    run.refresh_from_db()
    if run.status not in ACTIVE_RUN_STATUSES:
        raise RunNotActive(f"Run {run.pk} has already ended ({run.status}).")
    with transaction.atomic():
        released = _release_silent_claims(run.pk)
        chunks = list(
            RunChunk.objects.filter(run=run, status=ChunkStatus.PENDING).values_list(
                "index", flat=True
            )
        )
        JudgingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
        audit_event_record(
            actor=actor,
            action="run.resume",
            obj=run,
            after={"chunks": len(chunks), "released": released, "by": "user" if actor else "sweep"},
        )
        if chunks:
            transaction.on_commit(
                partial(chunks_dispatch, run_id=run.pk, backend=run.judge.backend, indexes=chunks)
            )
    if not chunks and not RunChunk.objects.filter(run=run, status=ChunkStatus.RUNNING).exists():
        # Every chunk was written but the run was never closed (a crash right after a commit).
        finalize_if_complete(run.pk)
    return len(chunks)


def _release_silent_claims(run_id: int, indexes: Iterable[int] | None = None) -> list[int]:
    """Give back the run's chunks whose claim has not been beaten within the stale window."""
    silent = RunChunk.objects.filter(
        run_id=run_id, status=ChunkStatus.RUNNING, claimed_at__lt=liveness.stale_cutoff()
    )
    if indexes is not None:
        silent = silent.filter(index__in=list(indexes))
    released = sorted(silent.values_list("index", flat=True))
    # Conditional on the same filter: a claim beaten between the read and the update stays.
    RunChunk.objects.filter(
        run_id=run_id,
        index__in=released,
        status=ChunkStatus.RUNNING,
        claimed_at__lt=liveness.stale_cutoff(),
    ).update(status=ChunkStatus.PENDING, claimed_at=None)
    return released


def runs_sweep_orphaned(*, max_resumes: int | None = None) -> dict[str, list[int]]:
    """Resume runs nobody works on; fail what cannot progress (the beat task, every sweep period).

    1. A chunk whose claim went silent for the stale window lost its worker: it is released and
       sent again at once (even while other chunks of its run still work). A chunk claimed more
       often than its retries and ``JUDGING_MAX_RESUMES`` allow (its worker died every time) is
       given up: its items fail with the reason, and the run ends ``partial``.
    2. A run whose heartbeat went silent has no chunk at work. When its queue has a consumer
       and fewer messages wait in it than the run has pending chunks, some of those chunks'
       messages are gone (held by a dead worker until the broker's visibility timeout, or lost
       with the broker): it is resumed, and a copy of a message that was only late does
       nothing. With no consumer, or enough messages waiting for busy workers to be its own,
       it waits (the run page says why), and continues by itself once a worker takes its
       queue. ``resumes`` counts consecutive resumes without progress; after
       ``JUDGING_MAX_RESUMES`` the run is failed.
    """
    if max_resumes is None:
        max_resumes = int(settings.JUDGING_MAX_RESUMES)
    outcome: dict[str, list[int]] = {"released": [], "resumed": [], "waiting": [], "failed": []}
    cutoff = liveness.stale_cutoff()
    max_claims = CHUNK_RETRIES + 1 + max_resumes
    silent_chunks = RunChunk.objects.filter(
        status=ChunkStatus.RUNNING, claimed_at__lt=cutoff, run__status__in=ACTIVE_RUN_STATUSES
    ).values_list("run_id", "index", "attempts", "run__judge__backend")
    by_run: dict[int, tuple[str, list[int]]] = {}
    for run_id, index, attempts, backend in silent_chunks:
        if attempts >= max_claims:
            chunk_fail(
                run_id=run_id,
                index=index,
                reason=(
                    f"The worker judging this chunk was lost {attempts} times (killed, out of "
                    f"memory?); the chunk was given up."
                ),
            )
            continue
        by_run.setdefault(run_id, (backend, []))[1].append(index)
    for run_id, (backend, indexes) in by_run.items():
        with transaction.atomic():
            released = _release_silent_claims(run_id, indexes)
            if released:
                audit_event_record(
                    actor=None,
                    action="run.chunks_release",
                    obj=JudgingRun.objects.get(pk=run_id),
                    after={"chunks": released, "reason": "their worker stopped beating"},
                )
                transaction.on_commit(
                    partial(chunks_dispatch, run_id=run_id, backend=backend, indexes=released)
                )
        if released:
            log.warning("run %s: chunks %s lost their worker; sent again", run_id, released)
            outcome["released"].append(run_id)

    stale = (
        JudgingRun.objects.filter(status__in=ACTIVE_RUN_STATUSES)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .exclude(pk__in=outcome["released"])
    )
    for run in stale.select_related("judge"):
        state = liveness.queue_state(chunk_queue_for(run.judge.backend))
        pending = RunChunk.objects.filter(run=run, status=ChunkStatus.PENDING).count()
        if liveness.waits_for_queue(state, pending=pending):
            outcome["waiting"].append(run.pk)
            continue
        if run.resumes >= max_resumes:
            run_fail(
                run=run,
                reason=(
                    f"No progress after {run.resumes} automatic resumes although a worker "
                    f"consumes the `{state.queue}` queue: its chunks do not get judged."
                ),
            )
            outcome["failed"].append(run.pk)
            continue
        JudgingRun.objects.filter(pk=run.pk).update(resumes=F("resumes") + 1)
        try:
            run_resume(run=run)
        except RunNotActive:
            continue
        outcome["resumed"].append(run.pk)
    return outcome
