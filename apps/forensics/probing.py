"""Judging rubric variants that were never published, through the judging cache, on a budget.

Clause attribution asks the judge about rubrics that exist only for the question ("the
candidate with this hunk reverted"). They are rendered exactly as a run renders a published
version (``prompting.make_request``) and keyed exactly as a run keys its requests
(``accounting.cache_key`` over the messages, the judge's fingerprint and the order), so:

* every request a run has already answered (the full baseline and candidate rubrics) is read
  from ``CachedJudgment`` and costs nothing;
* every fresh answer is stored there, so running the same attribution again, or a later run of
  the same rubric text, is free.

The plan counts the distinct requests the cache cannot answer before anything is sent; the
budget is a number of such judge calls, checked against the plan, so a job never spends more
than it was allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.judging.accounting import cache_key, judge_fingerprint
from apps.judging.models import CachedJudgment, JudgeConfig, Verdict
from apps.judging.prompting import make_request
from apps.judging.protocol import aggregate_pair, criteria_to_pair, to_pair_verdict
from apps.judging.services import judge_backend
from apps.judging.types import ORDERS, JudgeRequest, Mode, Order, PairText
from apps.rubrics.spec import RubricSpec

# Requests sent to a backend at once: bounded so a large job keeps its memory flat.
BATCH_SIZE = 200


class BudgetExceeded(Exception):
    """The plan needs more judge calls than the budget allows (nothing was sent)."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(
            f"needs {needed} judge calls that the cache cannot answer; the budget is {budget}"
        )
        self.needed = needed
        self.budget = budget


@dataclass
class ProbeItem:
    """One request of the plan: a rubric variant, a pair, an order, and its cache key."""

    variant: str
    pair_id: int
    order: Order
    request: JudgeRequest
    key: str


@dataclass
class ProbePlan:
    """Everything to judge, with what the cache already holds."""

    items: list[ProbeItem]
    hits: dict[str, dict[str, Any]]

    @property
    def missing_keys(self) -> list[str]:
        """Distinct cache keys with no cached answer, in plan order (the calls to make)."""
        seen: dict[str, None] = {}
        for item in self.items:
            if item.key not in self.hits:
                seen.setdefault(item.key)
        return list(seen)

    @property
    def calls_needed(self) -> int:
        return len(self.missing_keys)


@dataclass
class ProbeOutcome:
    """Pair verdicts per variant (pair's own A/B terms, both orders aggregated), and costs."""

    verdicts: dict[str, dict[int, str]] = field(default_factory=dict)
    calls: int = 0
    cache_hits: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


def _mode(judge: JudgeConfig) -> Mode | None:
    mode = judge.params.get("mode")
    return mode if mode in ("verdict", "reasoned") else None


def probe_plan(
    judge: JudgeConfig, variants: Mapping[str, RubricSpec], pairs: Mapping[int, PairText]
) -> ProbePlan:
    """Render every (variant, pair, order) request and look its key up in the cache.

    Raises ``ValueError`` when a variant cannot be rendered (a template without a placeholder).
    """
    fingerprint = judge_fingerprint(backend=judge.backend, model=judge.model, params=judge.params)
    mode = _mode(judge)
    items: list[ProbeItem] = []
    for name, spec in variants.items():
        for pair_id, pair in pairs.items():
            for order in ORDERS:
                request = make_request(
                    key=f"{name}|{pair_id}|{order}", rubric=spec, pair=pair, order=order, mode=mode
                )
                key = cache_key(messages=request.messages, fingerprint=fingerprint, order=order)
                items.append(ProbeItem(name, pair_id, order, request, key))
    hits: dict[str, dict[str, Any]] = {}
    keys = list({item.key for item in items})
    for start in range(0, len(keys), 1000):
        for row in CachedJudgment.objects.filter(key__in=keys[start : start + 1000]).values(
            "key", "verdict", "p_first", "tokens_in", "tokens_out"
        ):
            hits[row["key"]] = dict(row)
    return ProbePlan(items=items, hits=hits)


def _fresh_answers(
    judge: JudgeConfig, plan: ProbePlan, keys: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Ask the backend once per missing key; store the usable answers in the cache."""
    first_item: dict[str, ProbeItem] = {}
    for item in plan.items:
        first_item.setdefault(item.key, item)
    backend = judge_backend(judge)
    answers: dict[str, dict[str, Any]] = {}
    tokens_in = tokens_out = 0
    for start in range(0, len(keys), BATCH_SIZE):
        batch = [first_item[key] for key in keys[start : start + BATCH_SIZE]]
        results = backend.judge_batch([item.request for item in batch])
        if len(results) != len(batch):
            raise RuntimeError(
                f"the {judge.backend} backend returned {len(results)} results for "
                f"{len(batch)} requests"
            )
        to_cache = []
        for item, result in zip(batch, results, strict=True):
            verdict = to_pair_verdict(result.verdict, item.order)
            answer: dict[str, Any] = {
                "verdict": verdict,
                "p_first": result.p_first,
                "tokens_in": max(0, int(result.tokens_in)),
                "tokens_out": max(0, int(result.tokens_out)),
            }
            answers[item.key] = answer
            tokens_in += answer["tokens_in"]
            tokens_out += answer["tokens_out"]
            # As a run does: errors and answers without a verdict are not remembered.
            if not result.error and verdict != Verdict.INVALID:
                to_cache.append(
                    CachedJudgment(
                        key=item.key,
                        verdict=verdict,
                        p_first=result.p_first,
                        rationale=result.rationale,
                        criteria=criteria_to_pair(result.criteria, item.order),
                        raw_output=result.raw_output,
                        tokens_in=answer["tokens_in"],
                        tokens_out=answer["tokens_out"],
                    )
                )
        CachedJudgment.objects.bulk_create(to_cache, ignore_conflicts=True)
    return answers, tokens_in, tokens_out


def probe_execute(judge: JudgeConfig, plan: ProbePlan, *, budget: int) -> ProbeOutcome:
    """Judge the plan: cached answers first, one backend call per missing key.

    Raises ``BudgetExceeded`` before sending anything when the plan needs more calls than
    ``budget``.
    """
    missing = plan.missing_keys
    if len(missing) > budget:
        raise BudgetExceeded(len(missing), budget)
    fresh, tokens_in, tokens_out = _fresh_answers(judge, plan, missing) if missing else ({}, 0, 0)
    answers = {**plan.hits, **fresh}
    by_pair: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for item in plan.items:
        by_pair.setdefault((item.variant, item.pair_id), {})[item.order] = answers[item.key]
    outcome = ProbeOutcome(
        calls=len(missing),
        cache_hits=sum(1 for item in plan.items if item.key in plan.hits),
        requests=len(plan.items),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
    for (variant, pair_id), orders in by_pair.items():
        ab, ba = orders["AB"], orders["BA"]
        aggregated = aggregate_pair(ab["verdict"], ba["verdict"])
        outcome.verdicts.setdefault(variant, {})[pair_id] = aggregated.verdict
    return outcome


def pair_texts(pairs: Iterable[Any]) -> dict[int, PairText]:
    """``PairText`` by pair id for ``Pair`` rows (or objects with the same fields)."""
    return {
        pair.pk: PairText(
            prompt=pair.prompt,
            response_a=pair.response_a,
            response_b=pair.response_b,
            domain=pair.domain,
        )
        for pair in pairs
    }
