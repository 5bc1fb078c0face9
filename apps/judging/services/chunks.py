"""Judging a chunk of a run: claiming it, judging its pending items (cache first), writing the
results and counters, giving it back or up, and judging a whole run in-process (the demo)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core import liveness
from apps.datasets.models import Pair
from apps.judging import judge_policy
from apps.judging.accounting import cache_key, judge_fingerprint, token_cost
from apps.judging.models import (
    CachedJudgment,
    ChunkStatus,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
    Verdict,
)
from apps.judging.options import judge_options
from apps.judging.prompting import make_request
from apps.judging.protocol import criteria_to_pair, to_pair_verdict
from apps.judging.services.cache import ResultRow, backend_answers, cache_store, rows_json
from apps.judging.services.configs import judge_mode
from apps.judging.services.finish import ACTIVE_RUN_STATUSES, finalize_if_complete, run_fail
from apps.judging.types import JudgeRequest, JudgeResult, Order, PairText
from apps.rubrics.models import RubricVersion
from apps.rubrics.spec import RubricSpec

log = logging.getLogger(__name__)


@dataclass
class ChunkOutcome:
    """What one call of ``chunk_judge`` did (for logs and tests)."""

    # "written", "skipped" (claimed elsewhere or done), "stopped" (run ended), "refused" (the
    # judge config broke the operator's policy: the run failed, nothing was sent)
    state: str
    written: int = 0
    cached: int = 0
    judged: int = 0


# Published rubric versions never change, so their specs are cached per process. The key
# includes the creation time: an id can come back after a rolled-back insert (SQLite).
_SPECS: dict[tuple[int, str, int], RubricSpec] = {}
_SPECS_MAX = 64


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
    finalize_if_complete(run_id)
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


def _judge_items(
    run: JudgingRun, items: Sequence[tuple[int, int, str]]
) -> tuple[list[ResultRow], int]:
    """Results for the items: copied from the cache where possible, from the backend otherwise."""
    requests, keys = _requests_for(run, items)
    hits = _cache_hits(keys) if run.use_cache else {}
    misses = [i for i, key in enumerate(keys) if key not in hits]
    results = backend_answers(run.judge, requests, misses)
    rows: list[ResultRow] = []
    for i, (judgment_id, _pair_id, order) in enumerate(items):
        hit = hits.get(keys[i])
        if hit is not None:
            rows.append(_hit_row(judgment_id, keys[i], hit))
        else:
            rows.append(_fresh_row(judgment_id, keys[i], order, results[i]))  # type: ignore[arg-type]
    return rows, len(misses)


def _requests_for(
    run: JudgingRun, items: Sequence[tuple[int, int, str]]
) -> tuple[list[JudgeRequest], list[str]]:
    """The judge request of each item and its judging-cache key, in the items' order."""
    judge = run.judge
    spec = _spec_for(run.rubric_version)
    mode = judge_mode(judge)
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
    return requests, keys


def _cache_hits(keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The cached answers among ``keys``, by key."""
    return {
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


def _hit_row(judgment_id: int, key: str, hit: dict[str, Any]) -> ResultRow:
    """A judgment answered from the cache: done, no tokens spent, no call made."""
    return ResultRow(
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


def _fresh_row(judgment_id: int, key: str, order: Order, result: JudgeResult) -> ResultRow:
    """A judgment answered by the backend, in the pair's own A/B terms."""
    # An error that consumed no tokens never reached the judge (HTTP errors after the
    # backend's retries, an exception): the item failed. An answer without a verdict (a
    # refusal, unparseable text) is the judge's answer: done, with verdict "invalid".
    unanswered = bool(result.error) and not result.tokens_in and not result.tokens_out
    return ResultRow(
        id=judgment_id,
        status=JudgmentStatus.FAILED if unanswered else JudgmentStatus.DONE,
        verdict=to_pair_verdict(result.verdict, order),
        p_first=result.p_first,
        rationale=result.rationale,
        criteria=criteria_to_pair(result.criteria, order),
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


def _update_pending(rows: Sequence[ResultRow]) -> set[int]:
    """Write the rows that are still pending; returns the ids actually written."""
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_UPDATE, [rows_json(rows)])
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


def _write_chunk(run: JudgingRun, chunk: RunChunk, rows: Sequence[ResultRow]) -> int:
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
    cache_store([r for r in wanted if not r.cached and not r.error and r.verdict != "invalid"])
    return len(wanted)


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
    finalize_if_complete(run_id)
    return count


def run_execute(*, run: JudgingRun) -> JudgingRun:
    """Judge every pending chunk of ``run`` in this process (the demo; no worker needed)."""
    for index in RunChunk.objects.filter(run=run, status=ChunkStatus.PENDING).values_list(
        "index", flat=True
    ):
        chunk_judge(run_id=run.pk, index=index)
    finalize_if_complete(run.pk)
    run.refresh_from_db()
    return run
