"""Judging a candidate rubric on some pairs through the judging cache, and what it could cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from apps.judging.accounting import token_cost
from apps.judging.models import JudgeConfig
from apps.judging.options import max_tokens
from apps.judging.prompting import estimate_messages_tokens, render_messages
from apps.judging.protocol import aggregate_pair
from apps.judging.services import judge_texts_cached
from apps.redteam import search
from apps.redteam.services.pairs import PairRow
from apps.rubrics.spec import RubricSpec


@dataclass
class Judged:
    """A rubric's verdicts on some pairs, and what judging them cost."""

    verdicts: dict[int, str] = field(default_factory=dict)
    cached_pairs: set[int] = field(default_factory=set)
    fresh_calls: int = 0
    cached_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)

    def accuracy(self, rows: Sequence[PairRow], group: str | None = None) -> float | None:
        return search.accuracy(
            (self.verdicts[r.pair_id], r.gold)
            for r in rows
            if (group is None or r.group == group) and r.pair_id in self.verdicts
        )

    def by_domain(self, rows: Sequence[PairRow]) -> dict[str, float | None]:
        domains = sorted({r.text.domain for r in rows})
        return {
            d: search.accuracy(
                (self.verdicts[r.pair_id], r.gold)
                for r in rows
                if r.text.domain == d and r.pair_id in self.verdicts
            )
            for d in domains
        }


def judge_rubric(judge: JudgeConfig, spec: RubricSpec, rows: Sequence[PairRow]) -> Judged:
    """Both orders of every pair judged with ``spec`` (through the cache), aggregated per pair."""
    items = [(f"{r.pair_id}:{order}", r.text, order) for r in rows for order in ("AB", "BA")]
    answers = judge_texts_cached(judge=judge, spec=spec, items=items)  # type: ignore[arg-type]
    out = Judged()
    by_key = {a.key: a for a in answers}
    for r in rows:
        ab, ba = by_key[f"{r.pair_id}:AB"], by_key[f"{r.pair_id}:BA"]
        out.verdicts[r.pair_id] = aggregate_pair(ab.verdict, ba.verdict).verdict
        if ab.cached and ba.cached:
            out.cached_pairs.add(r.pair_id)
    fresh = [a for a in answers if not a.cached]
    out.fresh_calls = len(fresh)
    out.cached_calls = len(answers) - len(fresh)
    out.tokens_in = sum(a.tokens_in for a in fresh)
    out.tokens_out = sum(a.tokens_out for a in fresh)
    out.cost = token_cost(out.tokens_in, out.tokens_out, judge.price_in, judge.price_out)
    return out


def worst_case_cost(judge: JudgeConfig, spec: RubricSpec, rows: Sequence[PairRow]) -> Decimal:
    """What judging ``rows`` with ``spec`` could cost if nothing were cached (prices per call)."""
    if not (judge.price_in or judge.price_out):
        return Decimal(0)
    tokens_in = sum(
        estimate_messages_tokens(render_messages(spec, r.text, order))
        for r in rows
        for order in ("AB", "BA")
    )
    # Verdict-mode calls, each at its worst case: the whole ``max_tokens``.
    tokens_out = 2 * len(rows) * max_tokens(judge.params, "verdict")
    return token_cost(tokens_in, tokens_out, judge.price_in, judge.price_out)
