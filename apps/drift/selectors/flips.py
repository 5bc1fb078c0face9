"""The flipped pairs of a report: which way each flip went against the gold label (a regression,
a correction or another change), the report's flips filtered by domain, that direction and the
way the verdict moved (toward the longer response...), their counts per domain, and the texts and
rationales of one page of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from apps.datasets.models import Pair
from apps.drift.models import DriftReport
from apps.judging.models import Judgment, JudgmentStatus

# Which way a flip went against the gold label. A regression is a pair the candidate scores lower
# on than the baseline did, a correction one it scores higher on; anything else (a gold tie,
# which carries no accuracy, or a change between two equally wrong verdicts) is "other".
REGRESSION = "regression"
CORRECTION = "correction"
OTHER = "other"
DIRECTIONS: dict[str, str] = {
    REGRESSION: "regression (less right than before)",
    CORRECTION: "correction (more right than before)",
    OTHER: "other change (no accuracy at stake)",
}

# The way the verdict moved, as the report's direction tests count it (``flip_moves``):
# filter key -> (the flip's ``moves`` key, its sign, words).
MOVE_FILTERS: dict[str, tuple[str, int, str]] = {
    "longer": ("toward_longer", 1, "toward the longer response"),
    "shorter": ("toward_longer", -1, "toward the shorter response"),
    "refusal": ("toward_refusal", 1, "toward the refusing response"),
    "compliance": ("toward_refusal", -1, "away from the refusing response"),
    "position_a": ("toward_position_a", 1, "toward A"),
    "position_b": ("toward_position_a", -1, "toward B"),
}


def verdict_score(verdict: str, gold: str) -> float | None:
    """A verdict's score against the gold label, the rule of the report's accuracy: 1 for the
    gold side, 0.5 for a tie, 0 otherwise; None for a gold tie (it is not scored)."""
    if gold not in ("A", "B"):
        return None
    if verdict == gold:
        return 1.0
    return 0.5 if verdict == "tie" else 0.0


def flip_direction(flip: dict[str, Any]) -> str:
    """``regression``, ``correction`` or ``other`` for one flip of a report."""
    gold = str(flip.get("gold"))
    before = verdict_score(str(flip.get("baseline")), gold)
    after = verdict_score(str(flip.get("candidate")), gold)
    if before is None or after is None or before == after:
        return OTHER
    return REGRESSION if after < before else CORRECTION


def filter_flips(
    flipped: Iterable[dict[str, Any]], *, domain: str = "", direction: str = "", moves: str = ""
) -> list[dict[str, Any]]:
    """The flips in one domain, one direction (``DIRECTIONS``) and/or moving one way
    (``MOVE_FILTERS``), each with its ``direction`` added; an unknown key filters nothing."""
    rows = [
        {**flip, "direction": flip_direction(flip)}
        for flip in flipped
        if not domain or flip.get("domain") == domain
    ]
    if direction in DIRECTIONS:
        rows = [row for row in rows if row["direction"] == direction]
    if moves in MOVE_FILTERS:
        key, sign, _ = MOVE_FILTERS[moves]
        rows = [row for row in rows if (row.get("moves") or {}).get(key) == sign]
    return rows


def flip_counts(report: DriftReport) -> dict[str, Counter[str]]:
    """Per domain (and ``""`` for all pairs), how many flips went each direction."""
    counts: dict[str, Counter[str]] = {"": Counter()}
    for flip in report.stats.get("flipped") or []:
        direction = flip_direction(flip)
        counts[""][direction] += 1
        counts.setdefault(str(flip.get("domain")), Counter())[direction] += 1
    return counts


def flip_details(
    flips: list[dict[str, Any]], *, baseline_run_id: int | None, candidate_run_id: int | None
) -> list[dict[str, Any]]:
    """The flips of two runs' comparison with their pair's texts and both runs' rationales (a
    fixed number of queries)."""
    pair_ids = [f["pair_id"] for f in flips if f.get("pair_id") is not None]
    pairs = {
        row["pk"]: row
        for row in Pair.objects.filter(pk__in=pair_ids).values(
            "pk", "external_id", "prompt", "response_a", "response_b"
        )
    }
    rationales: dict[tuple[Any, Any, str], str] = {}
    run_ids = [r for r in (baseline_run_id, candidate_run_id) if r is not None]
    for run_id, judged_pair, order, rationale in (
        Judgment.objects.filter(run_id__in=run_ids, pair_id__in=pair_ids)
        .exclude(status=JudgmentStatus.PENDING)
        .values_list("run_id", "pair_id", "order", "rationale")
    ):
        rationales[(run_id, judged_pair, order)] = rationale
    details = []
    for flip in flips:
        pair_id: Any = flip.get("pair_id")
        detail = dict(flip)
        detail.setdefault("direction", flip_direction(flip))
        detail["pair"] = pairs.get(pair_id)
        detail["rationales"] = {
            "baseline": [
                rationales.get((baseline_run_id, pair_id, order), "") for order in ("AB", "BA")
            ],
            "candidate": [
                rationales.get((candidate_run_id, pair_id, order), "") for order in ("AB", "BA")
            ],
        }
        details.append(detail)
    return details
