"""The judging protocol: both orders of a pair, their aggregation, and accuracy against gold.

Definitions follow docs/judging-and-drift.md: a pair is judged as (A, B) and (B, A); a response wins
the pair if it wins in both orders, or wins in one and ties in the other (MT-Bench / JudgeBench);
opposite wins or two ties give a tie; an invalid order makes the pair invalid. Accuracy over gold
``A``/``B`` pairs credits 1 for the gold side, 0.5 for a tie (RIPD) and 0 otherwise, invalid
included; gold ``tie`` pairs are counted apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from statsmodels.stats.proportion import proportion_confint

from apps.judging.types import AggregatedVerdict, Order, PairVerdict, ShownVerdict

_SHOWN_TO_PAIR: dict[Order, dict[str, PairVerdict]] = {
    "AB": {"first": "A", "second": "B", "tie": "tie", "invalid": "invalid"},
    "BA": {"first": "B", "second": "A", "tie": "tie", "invalid": "invalid"},
}


def to_pair_verdict(shown: ShownVerdict, order: Order) -> PairVerdict:
    """The pair's verdict (``A``/``B``/``tie``/``invalid``) for a verdict on the shown order."""
    try:
        return _SHOWN_TO_PAIR[order][shown]
    except KeyError:
        raise ValueError(f"unknown order {order!r} or shown verdict {shown!r}") from None


def p_first_to_p_a(p_first: float | None, order: Order) -> float | None:
    """P(pair's A better) from P(first shown better): in order ``BA`` the first shown is B."""
    if p_first is None:
        return None
    if order == "AB":
        return p_first
    if order == "BA":
        return 1.0 - p_first
    raise ValueError(f"unknown order {order!r}")


def criteria_to_pair(criteria: Mapping[str, str], order: Order) -> dict[str, str]:
    """Per-criterion shown verdicts (``first``/``second``/``tie``) in terms of the pair's A/B.

    Values that are not shown verdicts are dropped.
    """
    mapping = _SHOWN_TO_PAIR[order]
    return {key: mapping[value] for key, value in criteria.items() if value in mapping}


def aggregate_pair(
    ab: PairVerdict,
    ba: PairVerdict,
    p_first_ab: float | None = None,
    p_first_ba: float | None = None,
) -> AggregatedVerdict:
    """The pair verdict from its two orders' verdicts, both already in the pair's A/B terms.

    ``p_a = (p_first(AB) + (1 - p_first(BA))) / 2`` when both probabilities are known (the
    "likelihood" aggregation of TrustJudge), else ``None``.
    """
    p_a = None
    if p_first_ab is not None and p_first_ba is not None:
        p_a = (p_first_ab + (1.0 - p_first_ba)) / 2.0
    if ab == "invalid" or ba == "invalid":
        return AggregatedVerdict(verdict="invalid", consistent=False, p_a=p_a)
    if ab == ba:
        return AggregatedVerdict(verdict=ab, consistent=True, p_a=p_a)
    verdicts = {ab, ba}
    if verdicts == {"A", "tie"}:
        return AggregatedVerdict(verdict="A", consistent=False, p_a=p_a)
    if verdicts == {"B", "tie"}:
        return AggregatedVerdict(verdict="B", consistent=False, p_a=p_a)
    if verdicts == {"A", "B"}:
        return AggregatedVerdict(verdict="tie", consistent=False, p_a=p_a)
    raise ValueError(f"unknown pair verdicts {ab!r}, {ba!r}")


def score(verdict: str, gold: str | None) -> float | None:
    """Credit for a pair verdict against its gold label; ``None`` when the pair is not scored.

    Gold ``A``/``B``: 1 for the gold side, 0.5 for ``tie``, 0 for the other side or ``invalid``.
    Gold ``tie`` (or no gold label) is excluded from accuracy: ``None``.
    """
    if gold not in ("A", "B"):
        return None
    if verdict == gold:
        return 1.0
    if verdict == "tie":
        return 0.5
    return 0.0


class AccuracyRow(NamedTuple):
    """One judged pair as accuracy needs it; a plain 4-tuple works the same."""

    domain: str
    gold: str | None
    verdict: str
    consistent: bool


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


def summarize(rows: Iterable[tuple[str, str | None, str, bool]]) -> dict[str, Any]:
    """The accuracy figures of one group of pairs (a domain, or all of them).

    ``n`` counts the pairs with gold ``A``/``B`` (the ones accuracy is over); ``n_gold_tie`` the
    gold-tie pairs left out; ``n_total`` every pair. ``ci_low``/``ci_high`` are the Wilson 95%
    interval of the accuracy (tie credit of 0.5 makes the success count fractional, which the
    Wilson formula accepts). ``tie_rate``, ``invalid_rate`` and ``position_consistency`` describe
    the judge on every pair of the group, gold ties included: they do not depend on the gold
    label. A figure with nothing to be computed over is ``None``.
    """
    n_total = n_gold_tie = n_tie = n_invalid = n_consistent = 0
    credit = 0.0
    n = 0
    for _domain, gold, verdict, consistent in rows:
        n_total += 1
        n_tie += verdict == "tie"
        n_invalid += verdict == "invalid"
        n_consistent += bool(consistent)
        if gold == "tie":
            n_gold_tie += 1
        points = score(verdict, gold)
        if points is not None:
            n += 1
            credit += points
    accuracy = ci_low = ci_high = None
    if n:
        accuracy = credit / n
        low, high = proportion_confint(credit, n, alpha=0.05, method="wilson")
        ci_low, ci_high = max(0.0, float(low)), min(1.0, float(high))
    return {
        "n": n,
        "accuracy": accuracy,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "tie_rate": _rate(n_tie, n_total),
        "invalid_rate": _rate(n_invalid, n_total),
        "position_consistency": _rate(n_consistent, n_total),
        "n_gold_tie": n_gold_tie,
        "n_total": n_total,
    }


def accuracy_summary(
    rows: Iterable[tuple[str, str | None, str, bool]],
) -> dict[str, Any]:
    """``{"overall": {...}, "by_domain": {domain: {...}}}``, the run's accuracy (docs/api.md).

    ``rows`` are ``(domain, gold, verdict, consistent)`` per pair (``AccuracyRow`` or tuples),
    with the aggregated pair verdict. Domains are listed in sorted order.
    """
    materialized = list(rows)
    groups: dict[str, list[tuple[str, str | None, str, bool]]] = defaultdict(list)
    for row in materialized:
        groups[row[0]].append(row)
    return {
        "overall": summarize(materialized),
        "by_domain": {domain: summarize(groups[domain]) for domain in sorted(groups)},
    }
