"""The judging cache: the result rows a chunk writes, storing fresh answers, and judging texts
outside a run (red-team search) through the same cache."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from apps.judging.accounting import cache_key, judge_fingerprint
from apps.judging.models import (
    CachedJudgment,
    JudgeConfig,
    JudgmentStatus,
    Verdict,
)
from apps.judging.prompting import make_request
from apps.judging.protocol import criteria_to_pair, to_pair_verdict
from apps.judging.services.configs import judge_backend, judge_mode
from apps.judging.types import JudgeRequest, JudgeResult, Order, PairText, PairVerdict
from apps.rubrics.spec import RubricSpec

log = logging.getLogger(__name__)


@dataclass
class ResultRow:
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


def rows_json(rows: Sequence[ResultRow]) -> str:
    return json.dumps([vars(r) for r in rows])


def cache_store(rows: Sequence[ResultRow]) -> None:
    """Remember fresh answers; keys are sorted so concurrent inserters lock in the same order."""
    if not rows:
        return
    unique = sorted({r.cache_key: r for r in rows}.items())
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_PG_CACHE_INSERT, [rows_json([r for _, r in unique])])
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


def backend_answers(
    judge: JudgeConfig, requests: Sequence[JudgeRequest], indexes: Sequence[int]
) -> dict[int, JudgeResult]:
    """The backend's answers to ``requests[i]`` for each ``i`` in ``indexes`` (the cache
    misses), by index; one batch, none when nothing is missing."""
    if not indexes:
        return {}
    answers = judge_backend(judge).judge_batch([requests[i] for i in indexes])
    if len(answers) != len(indexes):
        raise RuntimeError(
            f"the {judge.backend} backend returned {len(answers)} results for "
            f"{len(indexes)} requests"
        )
    return dict(zip(indexes, answers, strict=True))


# --- judging outside a run -----------------------------------------------------------------------

# Requests sent to a backend at once outside a run: bounded so a large job keeps its memory flat.
CACHE_BATCH_SIZE = 200


@dataclass
class CachedAnswer:
    """One order of one pair judged for a caller that keeps its own records (no ``Judgment``).

    ``verdict`` is in the pair's own A/B terms; ``cached`` says the answer cost nothing (it came
    from the judging cache, or from the call of an earlier item with the same request);
    ``tokens_*`` are what the answer consumed when fresh (or, when cached, what it saved).
    """

    key: str
    verdict: PairVerdict
    cached: bool
    tokens_in: int
    tokens_out: int
    error: str = ""


@dataclass
class CachePlan:
    """Requests to judge outside a run, with the answers the judging cache already holds.

    Built before anything is sent, so a caller with a budget knows the calls it would cost.
    """

    items: list[tuple[str, Order]]
    requests: list[JudgeRequest]
    keys: list[str]
    hits: dict[str, dict[str, Any]]

    @property
    def missing(self) -> list[int]:
        """The first item of each distinct request the cache cannot answer: the calls to make."""
        first: dict[str, int] = {}
        for index, key in enumerate(self.keys):
            if key not in self.hits:
                first.setdefault(key, index)
        return list(first.values())

    @property
    def calls_needed(self) -> int:
        return len(self.missing)


def cache_plan(
    *, judge: JudgeConfig, items: Sequence[tuple[str, RubricSpec, PairText, Order]]
) -> CachePlan:
    """Render ``(key, rubric, pair texts, order)`` items as a run would and look each up.

    The same requests and cache keys as a run's chunk (``make_request``, ``cache_key``), so an
    answer found here is reused by runs and the other way round. Raises ``ValueError`` when a
    rubric cannot be rendered (a template without a placeholder).
    """
    mode = judge_mode(judge)
    fingerprint = judge_fingerprint(backend=judge.backend, model=judge.model, params=judge.params)
    requests = [
        make_request(key=key, rubric=spec, pair=pair, order=order, mode=mode)
        for key, spec, pair, order in items
    ]
    keys = [
        cache_key(messages=r.messages, fingerprint=fingerprint, order=r.order) for r in requests
    ]
    distinct = list(set(keys))
    hits: dict[str, dict[str, Any]] = {}
    for start in range(0, len(distinct), 1000):
        for row in CachedJudgment.objects.filter(key__in=distinct[start : start + 1000]).values(
            "key", "verdict", "tokens_in", "tokens_out"
        ):
            hits[row["key"]] = dict(row)
    return CachePlan(
        items=[(key, order) for key, _spec, _pair, order in items],
        requests=requests,
        keys=keys,
        hits=hits,
    )


def cache_plan_answer(*, judge: JudgeConfig, plan: CachePlan) -> list[CachedAnswer]:
    """Answer every item of ``plan``: from the cache, else one backend call per distinct request.

    Fresh answers with a verdict are stored in the cache as a run's chunk stores them
    (``cache_store``); nothing else is written. One answer per item, in the plan's order.
    """
    missing = plan.missing
    fresh: dict[int, JudgeResult] = {}
    for start in range(0, len(missing), CACHE_BATCH_SIZE):
        fresh.update(
            backend_answers(judge, plan.requests, missing[start : start + CACHE_BATCH_SIZE])
        )
    answered: dict[str, CachedAnswer] = {}
    to_store: list[ResultRow] = []
    for index, result in fresh.items():
        key, order = plan.items[index]
        answer, row = _fresh_answer(key, order, result, plan.keys[index])
        answered[plan.keys[index]] = answer
        if row is not None:
            to_store.append(row)
    cache_store(to_store)
    out: list[CachedAnswer] = []
    for index, (key, _order) in enumerate(plan.items):
        hit = plan.hits.get(plan.keys[index])
        if hit is not None:
            out.append(CachedAnswer(key, hit["verdict"], True, hit["tokens_in"], hit["tokens_out"]))
        elif index in fresh:
            out.append(answered[plan.keys[index]])
        else:  # the same request as an earlier item: answered by that item's call
            first = answered[plan.keys[index]]
            out.append(CachedAnswer(key, first.verdict, True, first.tokens_in, first.tokens_out))
    return out


def _fresh_answer(
    key: str, order: Order, result: JudgeResult, request_key: str
) -> tuple[CachedAnswer, ResultRow | None]:
    """The answer to one fresh call, and the cache row to store (None: errors and answers
    without a verdict are not remembered, as a run does)."""
    verdict = to_pair_verdict(result.verdict, order)
    tokens_in, tokens_out = max(0, int(result.tokens_in)), max(0, int(result.tokens_out))
    answer = CachedAnswer(key, verdict, False, tokens_in, tokens_out, result.error)
    if result.error or verdict == Verdict.INVALID:
        return answer, None
    row = ResultRow(
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
        cache_key=request_key,
        verdict_source=result.verdict_source,
    )
    return answer, row


def judge_texts_cached(
    *, judge: JudgeConfig, spec: RubricSpec, items: Sequence[tuple[str, PairText, Order]]
) -> list[CachedAnswer]:
    """Judge ``(key, pair texts, order)`` items with ``spec`` through the judging cache
    (``cache_plan`` then ``cache_plan_answer``), so a rubric judged once costs nothing the
    second time."""
    plan = cache_plan(judge=judge, items=[(key, spec, pair, order) for key, pair, order in items])
    return cache_plan_answer(judge=judge, plan=plan)
