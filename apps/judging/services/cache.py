"""The judging cache: the result rows a chunk writes, storing fresh answers, and judging texts
outside a run (red-team search) through the same cache."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from apps.judging.accounting import cache_key, judge_fingerprint
from apps.judging.models import (
    CachedJudgment,
    JudgeConfig,
    JudgmentStatus,
)
from apps.judging.prompting import make_request
from apps.judging.protocol import criteria_to_pair, to_pair_verdict
from apps.judging.services.configs import judge_backend, judge_mode
from apps.judging.types import JudgeRequest, JudgeResult, Order, PairText
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
    ``cache_store``), so an answer found here is reused by runs and the other way round, and a
    rubric that was judged once costs nothing the second time. Nothing else is written.
    """
    mode = judge_mode(judge)
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
    fresh = backend_answers(judge, requests, misses)
    out: list[CachedAnswer] = []
    to_store: list[ResultRow] = []
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
                ResultRow(
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
    cache_store(to_store)
    return out
