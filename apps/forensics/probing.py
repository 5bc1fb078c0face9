"""Judging rubric variants that were never published, through the judging cache, on a budget.

Clause attribution asks the judge about rubrics that exist only for the question ("the
candidate with this hunk reverted"). They go through the judging app's cache plan
(``judging.services.cache_plan``), which renders and keys them exactly as a run renders and keys
a published version, so:

* every request a run has already answered (the full baseline and candidate rubrics) is read
  from the cache and costs nothing;
* every fresh answer is stored there, so running the same attribution again, or a later run of
  the same rubric text, is free.

The plan counts the distinct requests the cache cannot answer before anything is sent; the
budget is a number of such judge calls, checked against the plan, so a job never spends more
than it was allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.judging.models import JudgeConfig
from apps.judging.protocol import aggregate_pair
from apps.judging.services import CachePlan, cache_plan, cache_plan_answer
from apps.judging.types import ORDERS, PairText
from apps.rubrics.spec import RubricSpec


class BudgetExceeded(Exception):
    """The plan needs more judge calls than the budget allows (nothing was sent)."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(
            f"needs {needed} judge calls that the cache cannot answer; the budget is {budget}"
        )
        self.needed = needed
        self.budget = budget


@dataclass
class ProbeOutcome:
    """Pair verdicts per variant (pair's own A/B terms, both orders aggregated), and costs."""

    verdicts: dict[str, dict[int, str]] = field(default_factory=dict)
    calls: int = 0
    cache_hits: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


def _item_key(variant: str, pair_id: int, order: str) -> str:
    return f"{variant}|{pair_id}|{order}"


def probe_plan(
    judge: JudgeConfig, variants: Mapping[str, RubricSpec], pairs: Mapping[int, PairText]
) -> CachePlan:
    """Every (variant, pair, order) request, with what the cache already holds.

    Raises ``ValueError`` when a variant cannot be rendered (a template without a placeholder).
    """
    items = [
        (_item_key(name, pair_id, order), spec, pair, order)
        for name, spec in variants.items()
        for pair_id, pair in pairs.items()
        for order in ORDERS
    ]
    return cache_plan(judge=judge, items=items)


def probe_execute(judge: JudgeConfig, plan: CachePlan, *, budget: int) -> ProbeOutcome:
    """Judge the plan: cached answers first, one backend call per missing request.

    Raises ``BudgetExceeded`` before sending anything when the plan needs more calls than
    ``budget``.
    """
    if plan.calls_needed > budget:
        raise BudgetExceeded(plan.calls_needed, budget)
    answers = {answer.key: answer for answer in cache_plan_answer(judge=judge, plan=plan)}
    fresh = [answer for answer in answers.values() if not answer.cached]
    outcome = ProbeOutcome(
        calls=len(fresh),
        cache_hits=sum(1 for key in plan.keys if key in plan.hits),
        requests=len(plan.items),
        tokens_in=sum(answer.tokens_in for answer in fresh),
        tokens_out=sum(answer.tokens_out for answer in fresh),
    )
    for key, _order in plan.items:
        variant, pair_id, order = key.rsplit("|", 2)
        if order != "AB":
            continue
        ab = answers[key].verdict
        ba = answers[_item_key(variant, int(pair_id), "BA")].verdict
        outcome.verdicts.setdefault(variant, {})[int(pair_id)] = aggregate_pair(ab, ba).verdict
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
