"""Per-pair verdicts of a run, its accuracy, and the pairs table with its filters."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.functions import Length, Substr

from apps.datasets.models import Pair, ReferenceItem
from apps.judging.backends.offline import REFUSAL_WINDOW, is_refusal
from apps.judging.models import (
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunStatus,
)
from apps.judging.protocol import accuracy_summary, aggregate_pair, score

# --- per-pair outcomes ------------------------------------------------------------------------


@dataclass
class _Orders:
    ab: str | None = None
    ba: str | None = None
    p_ab: float | None = None
    p_ba: float | None = None
    rationale_ab: str = ""
    rationale_ba: str = ""
    cached_ab: bool = False
    cached_ba: bool = False


def _order_verdicts(run: JudgingRun, *, rationales: bool) -> dict[int, _Orders]:
    """Each pair's verdict per order; a failed judgment counts as ``invalid``, pending as None."""
    fields = ["pair_id", "order", "status", "verdict", "p_first", "cached"]
    if rationales:
        fields.append("rationale")
    orders: dict[int, _Orders] = {}
    rows = (
        Judgment.objects.filter(run_id=run.pk)
        .exclude(status=JudgmentStatus.PENDING)
        .order_by()
        .values_list(*fields)
    )
    for row in rows:
        pair_id, order, status, verdict, p_first, cached = row[:6]
        entry = orders.get(pair_id)
        if entry is None:
            entry = orders[pair_id] = _Orders()
        value = verdict if status == JudgmentStatus.DONE and verdict else "invalid"
        rationale = row[6] if rationales else ""
        if order == "AB":
            entry.ab, entry.p_ab, entry.rationale_ab = value, p_first, rationale
            entry.cached_ab = cached
        else:
            entry.ba, entry.p_ba, entry.rationale_ba = value, p_first, rationale
            entry.cached_ba = cached
    return orders


def _target_rows(run: JudgingRun, *, texts: bool) -> Iterable[tuple[Any, ...]]:
    """(pair id, domain, gold[, prompt, len a, len b, head a, head b]) for every pair of the target.

    Only the opening of each response is read (enough for the refusal markers); lengths come
    from the database.
    """
    text_fields: dict[str, Any] = {}
    if run.reference_set_id is not None:
        base: QuerySet[Any] = ReferenceItem.objects.filter(reference_set_id=run.reference_set_id)
        prefix = "pair__"
        fields = ["pair_id", "pair__domain", "gold_label"]
    else:
        # A run without a reference set has a dataset (a check constraint says so).
        base = Pair.objects.filter(dataset_id=int(run.dataset_id or 0))
        prefix = ""
        fields = ["pk", "domain", "gold_label"]
    if texts:
        text_fields = {
            "len_a": Length(f"{prefix}response_a"),
            "len_b": Length(f"{prefix}response_b"),
            "head_a": Substr(f"{prefix}response_a", 1, REFUSAL_WINDOW),
            "head_b": Substr(f"{prefix}response_b", 1, REFUSAL_WINDOW),
        }
        fields += [f"{prefix}prompt", "len_a", "len_b", "head_a", "head_b"]
        base = base.annotate(**text_fields)
    return base.order_by().values_list(*fields)


def run_pair_outcomes(
    run: JudgingRun, *, texts: bool = True, rationales: bool = True
) -> list[dict[str, Any]]:
    """One row per pair of the run whose two orders are both finished, ordered by pair id.

    Keys: ``pair_id, domain, gold, verdict, verdict_ab, verdict_ba, consistent, p_a,
    rationale_ab, rationale_ba, cached_ab, cached_ba, cached`` (``cached``: either order was
    answered from the judging cache) and, with ``texts``, ``prompt_hash`` (sha256 of the prompt,
    16 hex digits: pairs sharing a prompt share it), ``len_a``, ``len_b`` (characters) and
    ``refuses_a``, ``refuses_b`` (refusal markers at the start of each response). The verdict
    aggregates both orders (``protocol.aggregate_pair``); a failed order counts as ``invalid``.
    Pairs left pending (a cancelled run) are not listed. ``rationales=False`` leaves the
    rationales empty (less to read). Two queries whatever the size.
    """
    orders = _order_verdicts(run, rationales=rationales)
    rows: list[dict[str, Any]] = []
    for target in _target_rows(run, texts=texts):
        pair_id, domain, gold = target[:3]
        entry = orders.get(pair_id)
        if entry is None or entry.ab is None or entry.ba is None:
            continue
        aggregated = aggregate_pair(entry.ab, entry.ba, entry.p_ab, entry.p_ba)  # type: ignore[arg-type]
        row: dict[str, Any] = {
            "pair_id": pair_id,
            "domain": domain,
            "gold": gold,
            "verdict": aggregated.verdict,
            "verdict_ab": entry.ab,
            "verdict_ba": entry.ba,
            "consistent": aggregated.consistent,
            "p_a": aggregated.p_a,
            "rationale_ab": entry.rationale_ab,
            "rationale_ba": entry.rationale_ba,
            "cached_ab": entry.cached_ab,
            "cached_ba": entry.cached_ba,
            "cached": entry.cached_ab or entry.cached_ba,
        }
        if texts:
            prompt, len_a, len_b, head_a, head_b = target[3:]
            row["prompt_hash"] = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]
            row["len_a"] = int(len_a or 0)
            row["len_b"] = int(len_b or 0)
            row["refuses_a"] = is_refusal(head_a or "")
            row["refuses_b"] = is_refusal(head_b or "")
        rows.append(row)
    rows.sort(key=lambda r: r["pair_id"])
    return rows


# --- accuracy ---------------------------------------------------------------------------------


def run_accuracy_compute(run: JudgingRun) -> dict[str, Any]:
    """Accuracy against the gold labels, overall and per domain (docs/api.md "run" accuracy)."""
    outcomes = run_pair_outcomes(run, texts=False, rationales=False)
    return accuracy_summary(
        (r["domain"], r["gold"], r["verdict"], r["consistent"]) for r in outcomes
    )


# While a run is active, its accuracy is recomputed from every judgment so far: the cost grows
# with the run (about 9 ms of CPU per 1,000 judgments). Polls reuse the last figures while they
# are younger than ACCURACY_REFRESH_S or ACCURACY_COST_FACTOR times what computing them took, so
# however many clients poll and however fast chunks commit, a run's accuracy costs at most about
# 1/ACCURACY_COST_FACTOR of one core. Keying the cache on progress alone was measured to fail:
# when chunks commit every few tens of milliseconds nearly every poll saw new progress, and 50
# pollers slowed a 50,000-judgment run 2.5x.
ACCURACY_REFRESH_S = 5.0
ACCURACY_COST_FACTOR = 20


def run_accuracy(run: JudgingRun) -> dict[str, Any]:
    """The stored summary of an ended run, or the accuracy of what is judged so far.

    Figures of an active run may be a few seconds behind its progress (see
    ``ACCURACY_REFRESH_S``); once the run has ended they are exact.
    """
    if run.summary is not None and run.status != RunStatus.CANCELLED:
        return run.summary
    key = f"run-accuracy:{run.pk}"
    progress = [run.status, run.done, run.failed]
    entry: dict[str, Any] | None = cache.get(key)
    if entry is not None:
        age = time.time() - entry["at"]
        fresh = entry["progress"] == progress or (
            not run.is_finished
            and age < max(ACCURACY_REFRESH_S, ACCURACY_COST_FACTOR * entry["cost"])
        )
        # Stale figures serve the other pollers while one of them computes new ones.
        if fresh or not cache.add(f"{key}:computing", True, timeout=60):
            return dict(entry["value"])
    started = time.time()
    value = run_accuracy_compute(run)
    finished = time.time()
    cache.set(
        key,
        {"value": value, "progress": progress, "at": finished, "cost": finished - started},
        timeout=3600,
    )
    cache.delete(f"{key}:computing")
    return value


# --- the pairs table --------------------------------------------------------------------------


CORRECTNESS = ("correct", "half", "wrong", "unscored")


def _correctness(verdict: str, gold: str | None) -> str:
    points = score(verdict, gold)
    if points is None:
        return "unscored"
    if points == 1.0:
        return "correct"
    if points == 0.5:
        return "half"
    return "wrong"


def run_pair_rows(
    run: JudgingRun,
    *,
    domain: str = "",
    verdict: str = "",
    correctness: str = "",
    consistent: str = "",
    cached: str = "",
) -> list[dict[str, Any]]:
    """Per-pair rows for the run page's table, filtered; each has a ``correctness`` key.

    ``consistent`` and ``cached`` take ``yes`` or ``no`` (anything else does not filter):
    ``cached=yes`` keeps the pairs with either order answered from the cache, the rows behind
    the run's "From cache" figure.
    """
    rows = []
    for row in run_pair_outcomes(run, texts=False):
        row["correctness"] = _correctness(row["verdict"], row["gold"])
        if domain and row["domain"] != domain:
            continue
        if verdict and row["verdict"] != verdict:
            continue
        if correctness and row["correctness"] != correctness:
            continue
        if consistent in ("yes", "no") and row["consistent"] != (consistent == "yes"):
            continue
        if cached in ("yes", "no") and row["cached"] != (cached == "yes"):
            continue
        rows.append(row)
    return rows


def run_domains(run: JudgingRun) -> list[str]:
    """The domains of the run's target, sorted."""
    values: QuerySet[Any, str]
    if run.reference_set_id is not None:
        values = ReferenceItem.objects.filter(reference_set_id=run.reference_set_id).values_list(
            "pair__domain", flat=True
        )
    else:
        values = Pair.objects.filter(dataset_id=int(run.dataset_id or 0)).values_list(
            "domain", flat=True
        )
    return sorted(set(values.order_by().distinct()))
