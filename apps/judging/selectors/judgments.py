"""A run's judgments one per row (the run page's Done, Failed, cache, token and cost figures
count these), and the totals of any selection of them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from apps.judging.accounting import token_cost
from apps.judging.models import JudgingRun, Judgment


def run_judgments(run: JudgingRun) -> QuerySet[Judgment]:
    """Every judgment of ``run`` by pair and order, with the pair its row names."""
    return (
        Judgment.objects.filter(run=run)
        .select_related("pair")
        .defer("raw_output", "criteria", "pair__prompt", "pair__response_a", "pair__response_b")
        .order_by("pair_id", "order")
    )


@dataclass(frozen=True)
class JudgmentTotals:
    """What a selection of a run's judgments adds up to, split as the run's figures are: tokens
    and cost of the answers asked afresh, and what the ones read from the cache saved."""

    count: int
    fresh: int
    cached: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    saved_tokens: int
    saved_cost: Decimal


def judgment_totals(judgments: QuerySet[Judgment], run: JudgingRun) -> JudgmentTotals:
    """The totals of ``judgments`` (one query), priced at the run's judge prices."""
    fresh, cached = Q(cached=False), Q(cached=True)
    sums = judgments.order_by().aggregate(
        n=Count("id"),
        n_cached=Count("id", filter=cached),
        spent_in=Sum("tokens_in", filter=fresh, default=0),
        spent_out=Sum("tokens_out", filter=fresh, default=0),
        saved_in=Sum("tokens_in", filter=cached, default=0),
        saved_out=Sum("tokens_out", filter=cached, default=0),
    )
    prices = run.judge.price_in, run.judge.price_out
    return JudgmentTotals(
        count=sums["n"],
        fresh=sums["n"] - sums["n_cached"],
        cached=sums["n_cached"],
        tokens_in=sums["spent_in"],
        tokens_out=sums["spent_out"],
        cost=token_cost(sums["spent_in"], sums["spent_out"], *prices),
        saved_tokens=sums["saved_in"] + sums["saved_out"],
        saved_cost=token_cost(sums["saved_in"], sums["saved_out"], *prices),
    )
