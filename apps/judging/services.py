"""Writes of the judging app: judge configs, and starting, judging, cancelling and resuming runs.

How a run moves (see docs/judging-and-drift.md and docs/architecture.md "Dispatch after commit"):

1. ``run_start`` creates the run, its work items (one pending ``Judgment`` per pair and order,
   written by one ``INSERT ... SELECT``) and its chunks (judgment id ranges) in one transaction,
   then dispatches one task per chunk once the transaction has committed.
2. ``chunk_judge`` (called by the chunk tasks) claims its chunk, judges the pending items
   (cached answers first, the backend for the rest), and writes the results, the chunk's status
   and the run's counters in one transaction. Only rows that are still pending are written, so
   a redelivered message or a duplicate dispatch never writes or counts a judgment twice.
3. The chunk that brings ``done + failed`` up to ``total`` ends the run: ``succeeded``,
   ``partial`` (some items failed) or ``failed`` (all failed).

A chunk that keeps failing is given up by ``chunk_fail``: its items become ``failed`` with the
reason, so the run ends ``partial`` instead of staying ``running``. ``run_resume`` re-dispatches
what is still pending (after a worker died or the broker lost messages), and
``runs_sweep_orphaned`` does that on a schedule for chunks whose claim and runs whose heartbeat
went silent (a chunk at work beats both every few seconds; see ``apps.core.liveness``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import Project
from apps.core import liveness
from apps.core.api import Conflict
from apps.core.services import audit_event_record
from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet
from apps.judging import judge_policy
from apps.judging.accounting import cache_key, judge_fingerprint, token_cost
from apps.judging.backends.base import BackendConfig, JudgeBackend, backend_class
from apps.judging.models import (
    Backend,
    CachedJudgment,
    ChunkStatus,
    JudgeConfig,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
    Verdict,
)
from apps.judging.options import judge_options, option_errors
from apps.judging.prompting import make_request, render_messages
from apps.judging.protocol import criteria_to_pair, to_pair_verdict
from apps.judging.types import JudgeRequest, JudgeResult, Mode, Order, PairText
from apps.rubrics.models import RubricVersion
from apps.rubrics.spec import RubricSpec

log = logging.getLogger(__name__)

CHUNK_MIN = 50
CHUNK_MAX = 500
DEFAULT_CHUNK_SIZE = 250
ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# The demo judge's label wherever a judge is shown: it is not a language-model judge.
DEMO_JUDGE_LABEL = "demo/test judge"
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
# Keys that would put a secret into a judge's params (stored in clear, shown in the API).
SECRET_PARAM_NAMES = frozenset(
    {"api_key", "apikey", "key", "secret", "password", "token", "access_token", "authorization"}
)


class RunNotActive(Conflict):
    """409: the run has already ended, so it cannot be cancelled or resumed."""

    default_detail = "The run has already ended."
    default_code = "run_not_active"


# --- judge configs ----------------------------------------------------------------------------


def judge_label(judge: JudgeConfig) -> str:
    """How a judge is named in pages and exports; the offline judge is marked as a demo judge."""
    if judge.backend == Backend.OFFLINE:
        return f"{judge.name} ({DEMO_JUDGE_LABEL})"
    return judge.name


def judge_config_errors(
    *, backend: str, model: str, api_key_env: str, params: Any, base_url: str = ""
) -> dict[str, list[str]]:
    """Field errors of a judge config (shared by the form, the API, the admin and the service).

    Besides the shape of each field, the operator's policy (``judge_policy``): a declared key
    with an endpoint allowed for it, an allowed endpoint, a local model the operator offers.
    """
    errors: dict[str, list[str]] = {}
    if backend not in Backend.values:
        errors["backend"] = [f"Choose one of {', '.join(Backend.values)}."]
    if backend in (Backend.OPENAI, Backend.LOCAL) and not model.strip():
        errors["model"] = ["A model name (or, for a local model, its path) is required."]
    if api_key_env and not ENV_NAME_RE.match(api_key_env):
        errors["api_key_env"] = [
            "The name of an environment variable (capitals, digits, underscores), never a key."
        ]
    if not isinstance(params, dict):
        errors["params"] = ["A JSON object."]
    else:
        secret = sorted(k for k in params if str(k).lower() in SECRET_PARAM_NAMES)
        if secret:
            errors["params"] = [
                f"Remove {', '.join(secret)}: keys are never stored; name the environment "
                "variable that holds it in api_key_env."
            ]
        options = option_errors(params)
        if options:
            errors.setdefault("params", []).extend(options)
    if "backend" not in errors and "api_key_env" not in errors:
        for field, messages in judge_policy.config_errors(
            backend=backend, model=model, base_url=base_url, api_key_env=api_key_env, params=params
        ).items():
            errors.setdefault(field, []).extend(messages)
    return errors


def _judge_audit_state(judge: JudgeConfig) -> dict[str, Any]:
    """What the audit log keeps of a judge config: everything but the prices' precision."""
    return {
        "name": judge.name,
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "api_key_env": judge.api_key_env,
        "params": judge.params,
        "concurrency": judge.concurrency,
    }


@transaction.atomic
def judge_config_create(
    *,
    actor: Any,
    project: Project,
    name: str,
    backend: str,
    model: str = "",
    base_url: str = "",
    api_key_env: str = "",
    params: dict[str, Any] | None = None,
    concurrency: int = 8,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    price_in: Decimal | None = None,
    price_out: Decimal | None = None,
) -> JudgeConfig:
    """Create a judge config. The API key itself is never stored: only its variable's name."""
    params = {} if params is None else params
    errors = judge_config_errors(
        backend=backend, model=model, api_key_env=api_key_env, params=params, base_url=base_url
    )
    if JudgeConfig.objects.filter(project=project, name=name).exists():
        errors.setdefault("name", []).append("A judge with this name already exists.")
    if errors:
        raise ValidationError(errors)
    judge = JudgeConfig(
        project=project,
        name=name,
        backend=backend,
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        params=params,
        concurrency=concurrency,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        price_in=price_in,
        price_out=price_out,
    )
    judge.full_clean()
    judge.save()
    audit_event_record(
        actor=actor, action="judge.create", obj=judge, after=_judge_audit_state(judge)
    )
    return judge


@transaction.atomic
def judge_config_save(*, actor: Any, judge: JudgeConfig) -> JudgeConfig:
    """Save a changed judge config (the site admin), checked like a new one and audited.

    The state before the change is read from the database, so the audit event shows both.
    """
    errors = judge_config_errors(
        backend=judge.backend,
        model=judge.model,
        api_key_env=judge.api_key_env,
        params=judge.params,
        base_url=judge.base_url,
    )
    if errors:
        raise ValidationError(errors)
    previous = JudgeConfig.objects.filter(pk=judge.pk).first() if judge.pk else None
    judge.full_clean()
    judge.save()
    audit_event_record(
        actor=actor,
        action="judge.change" if previous is not None else "judge.create",
        obj=judge,
        before=_judge_audit_state(previous) if previous is not None else None,
        after=_judge_audit_state(judge),
    )
    return judge


# --- starting a run ---------------------------------------------------------------------------


def chunk_size_for(judge: JudgeConfig, requested: int | None = None) -> int:
    """Judgments per chunk: requested, else the judge's ``chunk_size`` param, else the setting.

    Clamped to [50, 500] and made even, so both orders of a pair land in the same chunk (the
    backends analyse a pair's texts once for both).
    """
    raw = (
        requested
        or judge.params.get("chunk_size")
        or getattr(settings, "JUDGING_CHUNK_SIZE", DEFAULT_CHUNK_SIZE)
    )
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
                mode=_mode(judge),
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
    from apps.judging.check import run_check_gate

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
            reference_set=reference_set,
            dataset=dataset,
            purpose=purpose,
            use_cache=use_cache,
            chunk_size=size,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
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
    from apps.judging import tasks

    task = tasks.chunk_task_for(backend)
    if indexes is None:
        indexes = RunChunk.objects.filter(run_id=run_id, status=ChunkStatus.PENDING).values_list(
            "index", flat=True
        )
    count = 0
    for index in indexes:
        task.delay(run_id, index)
        count += 1
    return count


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
        _finalize_if_complete(run.pk)
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
       and no message waits in it, its pending chunks' messages are gone (held by a dead worker
       until the broker's visibility timeout, or lost with the broker): it is resumed. With no
       consumer, or messages waiting for busy workers, it waits (the run page says why), and
       continues by itself once a worker takes its queue. ``resumes`` counts consecutive
       resumes without progress; after ``JUDGING_MAX_RESUMES`` the run is failed.
    """
    from apps.judging import tasks

    if max_resumes is None:
        max_resumes = int(settings.JUDGING_MAX_RESUMES)
    outcome: dict[str, list[int]] = {"released": [], "resumed": [], "waiting": [], "failed": []}
    cutoff = liveness.stale_cutoff()
    max_claims = tasks.MAX_RETRIES + 1 + max_resumes
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
        state = liveness.queue_state(tasks.queue_for(run.judge.backend))
        if not state.consumed or state.waiting:
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


def run_fail(*, run: JudgingRun, reason: str) -> None:
    """End an active run as ``failed``: its pending items become failed with ``reason``.

    Locks are taken in the order every chunk write uses (judgments, then the run, then the
    chunks), so this cannot deadlock with a chunk that is writing.
    """
    with transaction.atomic():
        now = timezone.now()
        count = Judgment.objects.filter(run_id=run.pk, status=JudgmentStatus.PENDING).update(
            status=JudgmentStatus.FAILED, verdict=Verdict.INVALID, error=reason
        )
        changed = JudgingRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES).update(
            failed=F("failed") + count, status=RunStatus.FAILED, error=reason, finished_at=now
        )
        if not changed:
            # The run ended meanwhile: leave its items as they were.
            transaction.set_rollback(True)
            return
        RunChunk.objects.filter(
            run_id=run.pk, status__in=(ChunkStatus.PENDING, ChunkStatus.RUNNING)
        ).update(status=ChunkStatus.FAILED, error=reason, finished_at=now)
        audit_event_record(actor=None, action="run.fail", obj=run, after={"reason": reason})


# --- judging a chunk --------------------------------------------------------------------------


@dataclass
class ChunkOutcome:
    """What one call of ``chunk_judge`` did (for logs and tests)."""

    # "written", "skipped" (claimed elsewhere or done), "stopped" (run ended), "refused" (the
    # judge config broke the operator's policy: the run failed, nothing was sent)
    state: str
    written: int = 0
    cached: int = 0
    judged: int = 0


# The backend instance of each judge config, per process: a local model is loaded once per GPU
# worker process, an HTTP backend keeps what it learned about its server. Keyed by the config's
# id and its fields (``judge_policy.backend_fingerprint``), so an edited config gets a fresh one.
_BACKENDS: dict[int, tuple[Any, JudgeBackend]] = {}
# Published rubric versions never change, so their specs are cached per process too. The key
# includes the creation time: an id can come back after a rolled-back insert (SQLite).
_SPECS: dict[tuple[int, str, int], RubricSpec] = {}
_SPECS_MAX = 64


def judge_backend(judge: JudgeConfig) -> JudgeBackend:
    """The cached backend instance for ``judge`` in this process (created on first use)."""
    stamp = judge_policy.backend_fingerprint(judge)
    cached = _BACKENDS.get(judge.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if cached is not None:
        cached[1].close()
    # Built by the policy module: the key is read only for a declared name, and a local
    # model's location, device and trust_remote_code are the operator's.
    config = judge_policy.backend_config(judge)
    backend = backend_class(judge.backend)(config)
    _BACKENDS[judge.pk] = (stamp, backend)
    return backend


def backend_config_for(judge: JudgeConfig) -> BackendConfig:
    """What a backend needs from ``judge``, as the operator's policy builds it for a run."""
    return judge_policy.backend_config(judge)


def _spec_for(version: RubricVersion) -> RubricSpec:
    key = (
        version.pk,
        version.created_at.isoformat() if version.created_at else "",
        version.revision,
    )
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) >= _SPECS_MAX:
            _SPECS.clear()
        spec = _SPECS[key] = version.to_spec()
    return spec


def _mode(judge: JudgeConfig) -> Mode | None:
    mode = judge.params.get("mode")
    return mode if mode in ("verdict", "reasoned") else None


def _claim_chunk(run_id: int, index: int) -> RunChunk | None:
    """Take the chunk if it is pending, or running under a claim silent for the stale window.

    A chunk at work beats its claim every ``LIVENESS_HEARTBEAT_S``, so a silent claim belongs to
    a worker that is gone.
    """
    now = timezone.now()
    claimable = Q(status=ChunkStatus.PENDING) | Q(
        status=ChunkStatus.RUNNING, claimed_at__lt=liveness.stale_cutoff(now)
    )
    claimed = (
        RunChunk.objects.filter(run_id=run_id, index=index)
        .filter(claimable)
        .update(status=ChunkStatus.RUNNING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return RunChunk.objects.get(run_id=run_id, index=index)


def chunk_release(*, run_id: int, index: int, error: str) -> None:
    """Give a claimed chunk back (before a retry), keeping the error for the run page."""
    RunChunk.objects.filter(run_id=run_id, index=index, status=ChunkStatus.RUNNING).update(
        status=ChunkStatus.PENDING, claimed_at=None, error=error[:2000]
    )


@dataclass
class _Row:
    """One judgment's result, ready to be written."""

    id: int
    status: str
    verdict: str
    p_first: float | None
    rationale: str
    criteria: dict[str, str]
    raw_output: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    attempts: int
    error: str
    cached: bool
    cache_key: str
    queue_ms: int = 0
    verdict_source: str = ""


_UPDATE_FIELDS = (
    "status",
    "verdict",
    "p_first",
    "rationale",
    "criteria",
    "raw_output",
    "tokens_in",
    "tokens_out",
    "latency_ms",
    "attempts",
    "error",
    "cached",
    "cache_key",
    "queue_ms",
    "verdict_source",
)


def chunk_judge(*, run_id: int, index: int, pause_s: float = 0.0) -> ChunkOutcome:
    """Judge one chunk of a run; safe to call any number of times for the same chunk.

    ``pause_s`` waits after claiming the chunk and before judging it. Only the worker crash test
    uses it (through ``RUBRICSTUDIO_TEST_CHUNK_DELAY_S``, see ``tasks``), to make a kill land
    while a chunk is claimed but not written.
    """
    chunk = _claim_chunk(run_id, index)
    if chunk is None:
        return ChunkOutcome("skipped")
    run = JudgingRun.objects.select_related("judge", "rubric_version").get(pk=run_id)
    if run.status not in ACTIVE_RUN_STATUSES or run.cancel_requested:
        chunk_release(run_id=run_id, index=index, error="")
        return ChunkOutcome("stopped")
    now = timezone.now()
    # One statement: the first chunk moves the run from queued to running; every chunk beats.
    JudgingRun.objects.filter(pk=run_id).update(
        status=Case(
            When(status=RunStatus.QUEUED, then=Value(RunStatus.RUNNING)), default=F("status")
        ),
        started_at=Coalesce(F("started_at"), Value(now)),
        heartbeat_at=now,
    )
    # The config as the database holds it now, checked before any call: a row changed in the
    # admin or the database after its creation fails the run here, and nothing is sent.
    refusal = judge_policy.worker_refusal(run.judge)
    if refusal is not None:
        log.warning("run %s refused: %s", run_id, refusal)
        run_fail(run=run, reason=refusal)
        return ChunkOutcome("refused")

    # While the chunk works, its claim and the run's heartbeat are beaten every few seconds, so
    # a claim only goes silent when this process is gone (see apps.core.liveness).
    with liveness.Beater(partial(_chunk_beat, run_id, index)):
        if pause_s > 0:
            time.sleep(pause_s)
        items = list(
            Judgment.objects.filter(
                run_id=run_id,
                pk__gte=chunk.first_id,
                pk__lte=chunk.last_id,
                status=JudgmentStatus.PENDING,
            )
            .order_by("pk")
            .values_list("pk", "pair_id", "order")
        )
        rows, judged = _judge_items(run, items) if items else ([], 0)
        written = _write_chunk(run, chunk, rows)
    _finalize_if_complete(run_id)
    return ChunkOutcome(
        "written", written=written, cached=sum(r.cached for r in rows), judged=judged
    )


def _chunk_beat(run_id: int, index: int) -> None:
    """One beat of a chunk at work: its claim, then its run's heartbeat (two short statements,
    each holding one row lock, so a beat never deadlocks with a chunk's write transaction)."""
    now = timezone.now()
    RunChunk.objects.filter(run_id=run_id, index=index, status=ChunkStatus.RUNNING).update(
        claimed_at=now
    )
    JudgingRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(heartbeat_at=now)


def _judge_items(run: JudgingRun, items: Sequence[tuple[int, int, str]]) -> tuple[list[_Row], int]:
    """Results for the items: copied from the cache where possible, from the backend otherwise."""
    judge = run.judge
    spec = _spec_for(run.rubric_version)
    mode = _mode(judge)
    options = judge_options(judge.params)
    fingerprint = judge_fingerprint(backend=judge.backend, model=judge.model, params=judge.params)
    texts = {
        pk: PairText(prompt=prompt, response_a=a, response_b=b, domain=domain)
        for pk, prompt, a, b, domain in Pair.objects.filter(
            pk__in={pair_id for _, pair_id, _ in items}
        ).values_list("pk", "prompt", "response_a", "response_b", "domain")
    }
    requests: list[JudgeRequest] = []
    keys: list[str] = []
    for judgment_id, pair_id, order in items:
        request = make_request(
            key=str(judgment_id),
            rubric=spec,
            pair=texts[pair_id],
            order=order,  # type: ignore[arg-type]
            mode=mode,
            layout=options.layout,
            one_token=options.one_token,
        )
        requests.append(request)
        keys.append(cache_key(messages=request.messages, fingerprint=fingerprint, order=order))

    hits: dict[str, dict[str, Any]] = {}
    if run.use_cache:
        hits = {
            row["key"]: dict(row)
            for row in CachedJudgment.objects.filter(key__in=set(keys)).values(
                "key",
                "verdict",
                "p_first",
                "rationale",
                "criteria",
                "raw_output",
                "tokens_in",
                "tokens_out",
                "verdict_source",
            )
        }
    misses = [i for i, key in enumerate(keys) if key not in hits]
    results: dict[int, JudgeResult] = {}
    if misses:
        answers = judge_backend(judge).judge_batch([requests[i] for i in misses])
        if len(answers) != len(misses):
            raise RuntimeError(
                f"the {judge.backend} backend returned {len(answers)} results for "
                f"{len(misses)} requests"
            )
        results = dict(zip(misses, answers, strict=True))

    rows: list[_Row] = []
    for i, (judgment_id, _pair_id, order) in enumerate(items):
        key = keys[i]
        hit = hits.get(key)
        if hit is not None:
            rows.append(
                _Row(
                    id=judgment_id,
                    status=JudgmentStatus.DONE,
                    verdict=hit["verdict"],
                    p_first=hit["p_first"],
                    rationale=hit["rationale"],
                    criteria=hit["criteria"] or {},
                    raw_output=hit["raw_output"],
                    tokens_in=hit["tokens_in"],
                    tokens_out=hit["tokens_out"],
                    latency_ms=0,
                    attempts=0,
                    error="",
                    cached=True,
                    cache_key=key,
                    verdict_source=hit["verdict_source"],
                )
            )
            continue
        result = results[i]
        shown_order: Order = order  # type: ignore[assignment]
        # An error that consumed no tokens never reached the judge (HTTP errors after the
        # backend's retries, an exception): the item failed. An answer without a verdict (a
        # refusal, unparseable text) is the judge's answer: done, with verdict "invalid".
        unanswered = bool(result.error) and not result.tokens_in and not result.tokens_out
        rows.append(
            _Row(
                id=judgment_id,
                status=JudgmentStatus.FAILED if unanswered else JudgmentStatus.DONE,
                verdict=to_pair_verdict(result.verdict, shown_order),
                p_first=result.p_first,
                rationale=result.rationale,
                criteria=criteria_to_pair(result.criteria, shown_order),
                raw_output=result.raw_output,
                tokens_in=max(0, int(result.tokens_in)),
                tokens_out=max(0, int(result.tokens_out)),
                latency_ms=max(0, int(result.latency_ms)),
                attempts=max(0, int(result.attempts)),
                error=result.error,
                cached=False,
                cache_key=key,
                queue_ms=max(0, int(result.queue_ms)),
                verdict_source=result.verdict_source if result.verdict != "invalid" else "",
            )
        )
    return rows, len(misses)


# PostgreSQL: a whole chunk travels as one JSON parameter that ``jsonb_to_recordset`` turns back
# into rows, so a chunk is one statement whatever its size, and the encoding is the C JSON
# encoder's work rather than per-value quoting. ``RETURNING`` names the rows that were still
# pending: with row locks, a concurrent duplicate waits, then finds them written.
_PG_UPDATE = """
UPDATE judging_judgment AS j SET
    status = v.status, verdict = v.verdict, p_first = v.p_first, rationale = v.rationale,
    criteria = v.criteria, raw_output = v.raw_output, tokens_in = v.tokens_in,
    tokens_out = v.tokens_out, latency_ms = v.latency_ms, attempts = v.attempts,
    error = v.error, cached = v.cached, cache_key = v.cache_key, queue_ms = v.queue_ms,
    verdict_source = v.verdict_source
FROM jsonb_to_recordset(%s::jsonb) AS v(
    id bigint, status text, verdict text, p_first float8, rationale text, criteria jsonb,
    raw_output text, tokens_in int, tokens_out int, latency_ms int, attempts int, error text,
    cached bool, cache_key text, queue_ms int, verdict_source text
)
WHERE j.id = v.id AND j.status = 'pending'
RETURNING j.id
"""
_PG_CACHE_INSERT = """
INSERT INTO judging_cachedjudgment
    (key, verdict, p_first, rationale, criteria, raw_output, tokens_in, tokens_out,
     verdict_source, created_at)
SELECT cache_key, verdict, p_first, rationale, criteria, raw_output, tokens_in, tokens_out,
    verdict_source, now()
FROM jsonb_to_recordset(%s::jsonb) AS v(
    cache_key text, verdict text, p_first float8, rationale text, criteria jsonb,
    raw_output text, tokens_in int, tokens_out int, verdict_source text
)
ORDER BY cache_key
ON CONFLICT (key) DO NOTHING
"""


def _rows_json(rows: Sequence[_Row]) -> str:
    return json.dumps([vars(r) for r in rows])


def _update_pending(rows: Sequence[_Row]) -> set[int]:
    """Write the rows that are still pending; returns the ids actually written."""
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_UPDATE, [_rows_json(rows)])
            return {row[0] for row in cursor.fetchall()}
    # Elsewhere (SQLite): the write transaction is exclusive, so the pending set read here
    # cannot change before the updates below.
    pending = set(
        Judgment.objects.select_for_update()
        .filter(pk__in=[r.id for r in rows], status=JudgmentStatus.PENDING)
        .values_list("pk", flat=True)
    )
    wanted = [r for r in rows if r.id in pending]
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(name)} = %s" for name in _UPDATE_FIELDS)
    sql = (
        f"UPDATE {qn(Judgment._meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {qn('id')} = %s AND {qn('status')} = %s"
    )
    criteria = Judgment._meta.get_field("criteria")
    params = [
        (
            r.status,
            r.verdict,
            r.p_first,
            r.rationale,
            criteria.get_db_prep_save(r.criteria, connection),
            r.raw_output,
            r.tokens_in,
            r.tokens_out,
            r.latency_ms,
            r.attempts,
            r.error,
            r.cached,
            r.cache_key,
            r.queue_ms,
            r.verdict_source,
            r.id,
            JudgmentStatus.PENDING.value,
        )
        for r in wanted
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return pending


def _write_chunk(run: JudgingRun, chunk: RunChunk, rows: Sequence[_Row]) -> int:
    """Write the results that are still wanted, the run's counters and the chunk's status at once.

    Only rows still pending are written (and counted), so of two executions of one chunk the
    second writes and counts nothing.
    """
    judge = run.judge
    now = timezone.now()
    with transaction.atomic():
        written = _update_pending(rows)
        wanted = [r for r in rows if r.id in written]
        fresh = [r for r in wanted if not r.cached]
        hits = [r for r in wanted if r.cached]
        tokens_in = sum(r.tokens_in for r in fresh)
        tokens_out = sum(r.tokens_out for r in fresh)
        saved_in = sum(r.tokens_in for r in hits)
        saved_out = sum(r.tokens_out for r in hits)
        failed = sum(r.status == JudgmentStatus.FAILED for r in wanted)
        JudgingRun.objects.filter(pk=run.pk).update(
            done=F("done") + len(wanted) - failed,
            failed=F("failed") + failed,
            cached=F("cached") + len(hits),
            tokens_in=F("tokens_in") + tokens_in,
            tokens_out=F("tokens_out") + tokens_out,
            cost=F("cost") + token_cost(tokens_in, tokens_out, judge.price_in, judge.price_out),
            saved_tokens=F("saved_tokens") + saved_in + saved_out,
            saved_cost=F("saved_cost")
            + token_cost(saved_in, saved_out, judge.price_in, judge.price_out),
            heartbeat_at=now,
            resumes=0,
        )
        RunChunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.DONE, finished_at=now, error=""
        )
    _cache_store([r for r in wanted if not r.cached and not r.error and r.verdict != "invalid"])
    return len(wanted)


def _cache_store(rows: Sequence[_Row]) -> None:
    """Remember fresh answers; keys are sorted so concurrent inserters lock in the same order."""
    if not rows:
        return
    unique = sorted({r.cache_key: r for r in rows}.items())
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_PG_CACHE_INSERT, [_rows_json([r for _, r in unique])])
        return
    CachedJudgment.objects.bulk_create(
        [
            CachedJudgment(
                key=key,
                verdict=r.verdict,
                p_first=r.p_first,
                rationale=r.rationale,
                criteria=r.criteria,
                raw_output=r.raw_output,
                tokens_in=r.tokens_in,
                tokens_out=r.tokens_out,
                verdict_source=r.verdict_source,
            )
            for key, r in unique
        ],
        ignore_conflicts=True,
    )


def chunk_fail(*, run_id: int, index: int, reason: str) -> int:
    """Give up a chunk after its retries: its pending items become failed with ``reason``.

    Same lock order as a chunk write (judgments, run, chunk), and only pending items change,
    so a duplicate of the chunk that is writing at the same moment keeps its results.
    """
    reason = reason[:2000] or "the chunk failed"
    chunk = RunChunk.objects.filter(run_id=run_id, index=index).first()
    if chunk is None or chunk.status == ChunkStatus.DONE:
        return 0
    with transaction.atomic():
        now = timezone.now()
        count = Judgment.objects.filter(
            run_id=run_id,
            pk__gte=chunk.first_id,
            pk__lte=chunk.last_id,
            status=JudgmentStatus.PENDING,
        ).update(status=JudgmentStatus.FAILED, verdict=Verdict.INVALID, error=reason)
        JudgingRun.objects.filter(pk=run_id).update(failed=F("failed") + count, heartbeat_at=now)
        RunChunk.objects.filter(pk=chunk.pk).exclude(status=ChunkStatus.DONE).update(
            status=ChunkStatus.FAILED, error=reason, finished_at=now
        )
    log.warning("run %s chunk %s failed for good: %s", run_id, index, reason)
    _finalize_if_complete(run_id)
    return count


def _finalize_if_complete(run_id: int) -> str | None:
    """End the run once every item is done or failed; only the first caller changes the status."""
    row = JudgingRun.objects.filter(pk=run_id).values("total", "done", "failed", "status").first()
    if row is None or row["status"] not in ACTIVE_RUN_STATUSES:
        return None
    if row["done"] + row["failed"] < row["total"]:
        return None
    no_verdict = _no_verdict_summary(run_id, row["total"])
    if row["done"] == 0:
        status = RunStatus.FAILED
    elif row["failed"] > 0 or no_verdict:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    now = timezone.now()
    problems = []
    if row["failed"]:
        problems.append(f"{row['failed']} of {row['total']} judgments failed; see the failures.")
    if no_verdict:
        problems.append(no_verdict)
    error = " ".join(problems)
    changed = JudgingRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=status, finished_at=now, heartbeat_at=now, error=error
    )
    if not changed:
        return None
    from apps.judging.selectors import run_accuracy_compute

    run = JudgingRun.objects.get(pk=run_id)
    JudgingRun.objects.filter(pk=run_id).update(summary=run_accuracy_compute(run))
    return status


# What the most common reason for answers without a verdict means, in the run's message.
_NO_VERDICT_MEANINGS = {
    "answer cut off at max_tokens without a verdict": (
        "the model ignored the answer format (answers cut off at max_tokens)"
    ),
    "no verdict in the answer": "the model ignored the answer format",
    "the judge refused": "the judge refused to answer",
    "empty answer": "the judge gave empty answers",
}


def _no_verdict_summary(run_id: int, total: int) -> str:
    """The run's message when more than ``JUDGING_MAX_INVALID_SHARE`` of its answers came back
    without a verdict (empty when they did not): a run that produced mostly nothing must not
    look ``succeeded``. Answers, not failures: failed items are counted separately."""
    limit = float(getattr(settings, "JUDGING_MAX_INVALID_SHARE", 0.5))
    invalid = Judgment.objects.filter(
        run_id=run_id, status=JudgmentStatus.DONE, verdict=Verdict.INVALID
    )
    count = invalid.count()
    if total == 0 or count / total <= limit:
        return ""
    reasons = Counter(invalid.values_list("error", flat=True)[:1000])
    top = reasons.most_common(1)[0][0] if reasons else ""
    meaning = _NO_VERDICT_MEANINGS.get(top) or top or "no reason was given"
    return (
        f"{count} of {total} answers had no verdict: {meaning}; run the judge check to find "
        "out why and how to fix it."
    )


def run_execute(*, run: JudgingRun) -> JudgingRun:
    """Judge every pending chunk of ``run`` in this process (the demo; no worker needed)."""
    for index in RunChunk.objects.filter(run=run, status=ChunkStatus.PENDING).values_list(
        "index", flat=True
    ):
        chunk_judge(run_id=run.pk, index=index)
    _finalize_if_complete(run.pk)
    run.refresh_from_db()
    return run


# --- judging outside a run (red-team search) --------------------------------------------------


@dataclass
class CachedAnswer:
    """One order of one pair judged for a caller that keeps its own records (no ``Judgment``).

    ``verdict`` is in the pair's own A/B terms; ``cached`` says the answer came from the judging
    cache, so it cost nothing; ``tokens_*`` are what a fresh answer consumed (or, for a cached
    one, what it saved).
    """

    key: str
    verdict: str
    cached: bool
    tokens_in: int
    tokens_out: int
    error: str = ""


def judge_texts_cached(
    *, judge: JudgeConfig, spec: RubricSpec, items: Sequence[tuple[str, PairText, Order]]
) -> list[CachedAnswer]:
    """Judge ``(key, pair texts, order)`` items with ``spec`` through the judging cache.

    The same requests, cache keys and cache writes as a run's chunk (``_judge_items`` and
    ``_cache_store``), so an answer found here is reused by runs and the other way round, and a
    rubric that was judged once costs nothing the second time. Nothing else is written.
    """
    mode = _mode(judge)
    fingerprint = judge_fingerprint(backend=judge.backend, model=judge.model, params=judge.params)
    requests = [
        make_request(key=key, rubric=spec, pair=pair, order=order, mode=mode)
        for key, pair, order in items
    ]
    keys = [
        cache_key(messages=r.messages, fingerprint=fingerprint, order=r.order) for r in requests
    ]
    hits = {
        row["key"]: row
        for row in CachedJudgment.objects.filter(key__in=set(keys)).values(
            "key", "verdict", "tokens_in", "tokens_out"
        )
    }
    misses = [i for i, key in enumerate(keys) if key not in hits]
    fresh: dict[int, JudgeResult] = {}
    if misses:
        answers = judge_backend(judge).judge_batch([requests[i] for i in misses])
        if len(answers) != len(misses):
            raise RuntimeError(
                f"the {judge.backend} backend returned {len(answers)} results for "
                f"{len(misses)} requests"
            )
        fresh = dict(zip(misses, answers, strict=True))
    out: list[CachedAnswer] = []
    to_store: list[_Row] = []
    for i, (key, _pair, order) in enumerate(items):
        hit = hits.get(keys[i])
        if hit is not None:
            out.append(CachedAnswer(key, hit["verdict"], True, hit["tokens_in"], hit["tokens_out"]))
            continue
        result = fresh[i]
        verdict = to_pair_verdict(result.verdict, order)
        tokens_in, tokens_out = max(0, int(result.tokens_in)), max(0, int(result.tokens_out))
        out.append(CachedAnswer(key, verdict, False, tokens_in, tokens_out, result.error))
        if not result.error and verdict != "invalid":
            to_store.append(
                _Row(
                    id=0,
                    status=JudgmentStatus.DONE,
                    verdict=verdict,
                    p_first=result.p_first,
                    rationale=result.rationale,
                    criteria=criteria_to_pair(result.criteria, order),
                    raw_output=result.raw_output,
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    latency_ms=max(0, int(result.latency_ms)),
                    attempts=max(0, int(result.attempts)),
                    error="",
                    cached=False,
                    cache_key=keys[i],
                )
            )
    _cache_store(to_store)
    return out
