"""Statistics of clause attribution and of judge drift: pure functions on verdict tables.

Attribution (per hunk h of a rubric edit, on the flipped pairs F and a control sample C of
unflipped pairs, each judged with the full baseline B, the full candidate N, N with h reverted
and B with h applied):

* ``explained``: flips whose verdict goes back to B's when h alone is reverted from N. The
  hunk's *share* is explained / |F|, with a Wilson 95% interval (statsmodels).
* ``reproduced``: flips that B with h alone applied already shows (h is sufficient).
* ``control_moved``: control pairs whose verdict changes when h is reverted (side effects).
* Paired test: on F + C, each pair is "like the baseline" or not under N and under N minus h;
  McNemar's exact test (statsmodels) on the discordant pairs, c = pairs brought back to the
  baseline's verdict by the revert, b = pairs the revert moved away from it. A hunk that carries
  the drift has large c and small b. p-values are Holm-adjusted across the hunks
  (statsmodels ``multipletests``; one call per job, so its garbage collection does not matter).

Interactions: when no single revert explains at least ``INTERACTION_THRESHOLD`` of the flips,
pairs of hunks are reverted together; a pair is reported when it explains more flips than
either of its hunks alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from apps.forensics.hunks import Hunk

# Below this share for the best single hunk, the flips are not explained by one hunk alone and
# pairs of hunks are tried.
INTERACTION_THRESHOLD = 0.5
# Pairs of hunks tried at most: C(6, 2) = 15 extra variants.
MAX_INTERACTION_HUNKS = 6


def wilson(successes: int, n: int) -> list[float] | None:
    """Wilson 95% interval of successes / n (statsmodels), None when n is 0."""
    if n <= 0:
        return None
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return [max(0.0, float(low)), min(1.0, float(high))]


def mcnemar_p(b: int, c: int) -> float:
    """Exact McNemar p-value from the two discordant counts; 1.0 when there are none."""
    if b + c == 0:
        return 1.0
    return float(mcnemar([[0, b], [c, 0]], exact=True).pvalue)


def hunk_effect(
    *,
    flips: Sequence[int],
    controls: Sequence[int],
    baseline: Mapping[int, str],
    candidate: Mapping[int, str],
    reverted: Mapping[int, str],
    applied: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The figures of one hunk (or one set of hunks) reverted from the candidate."""
    explained_pairs = [p for p in flips if reverted[p] == baseline[p]]
    explained = len(explained_pairs)
    reproduced = (
        sum(1 for p in flips if applied[p] == candidate[p]) if applied is not None else None
    )
    control_moved = sum(1 for p in controls if reverted[p] != candidate[p])
    b = c = 0
    for p in (*flips, *controls):
        like_before = candidate[p] == baseline[p]
        like_after = reverted[p] == baseline[p]
        if like_before and not like_after:
            b += 1
        elif like_after and not like_before:
            c += 1
    n = len(flips)
    return {
        "explained": explained,
        # The pairs themselves, so the figure opens them (each with both runs' judgments).
        "explained_pairs": explained_pairs,
        "share": explained / n if n else None,
        "share_ci": wilson(explained, n),
        "reproduced": reproduced,
        "control_moved": control_moved,
        "restored": c,
        "disturbed": b,
        "p": mcnemar_p(b, c),
    }


def attribute(
    *,
    hunks: Sequence[Hunk],
    flips: Sequence[int],
    controls: Sequence[int],
    baseline: Mapping[int, str],
    candidate: Mapping[int, str],
    reverted: Mapping[str, Mapping[int, str]],
    applied: Mapping[str, Mapping[int, str]],
) -> dict[str, Any]:
    """Each hunk's share of the flips, its interval and paired test, best first.

    ``reverted`` and ``applied`` map a hunk id to pair verdicts of the candidate without it and
    of the baseline with it alone. Returns ``{n_flips, n_controls, hunks: [...], top, headline}``.
    """
    rows = []
    for hunk in hunks:
        effect = hunk_effect(
            flips=flips,
            controls=controls,
            baseline=baseline,
            candidate=candidate,
            reverted=reverted[hunk.id],
            applied=applied[hunk.id],
        )
        rows.append({**hunk.to_dict(), **effect})
    if rows:
        adjusted = multipletests([row["p"] for row in rows], method="holm")[1]
        for row, p_holm in zip(rows, adjusted, strict=True):
            row["p_holm"] = float(p_holm)
    rows.sort(key=lambda row: (-row["explained"], row["p"], row["id"]))
    top = rows[0] if rows and rows[0]["explained"] else None
    return {
        "n_flips": len(flips),
        "n_controls": len(controls),
        "hunks": rows,
        "top": top["id"] if top else None,
        "headline": headline(top, len(flips)),
    }


def headline(top: Mapping[str, Any] | None, n_flips: int) -> str:
    """``'<hunk>' accounts for 17 of 19 flips``, or why no hunk does."""
    if n_flips == 0:
        return "No flipped pair to attribute."
    if top is None:
        return f"No single hunk, reverted alone, brings back any of the {n_flips} flips."
    return f"'{top['label']}' accounts for {top['explained']} of {n_flips} flips"


def needs_interactions(result: Mapping[str, Any]) -> bool:
    """Whether single reverts explain too little and there are two hunks or more to combine."""
    rows = result.get("hunks") or []
    if len(rows) < 2 or not result.get("n_flips"):
        return False
    best = max(row["share"] or 0.0 for row in rows)
    return best < INTERACTION_THRESHOLD


def interaction_candidates(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Pairs of hunk ids to revert together: among the hunks that explain most on their own."""
    ids = [row["id"] for row in (result.get("hunks") or [])][:MAX_INTERACTION_HUNKS]
    return [(first, second) for i, first in enumerate(ids) for second in ids[i + 1 :]]


def interactions(
    *,
    result: Mapping[str, Any],
    pairs: Sequence[tuple[str, str]],
    flips: Sequence[int],
    controls: Sequence[int],
    baseline: Mapping[int, str],
    candidate: Mapping[int, str],
    reverted: Mapping[tuple[str, str], Mapping[int, str]],
) -> list[dict[str, Any]]:
    """Pairs of hunks that explain more flips reverted together than either alone, best first."""
    single = {row["id"]: row for row in result.get("hunks") or []}
    found = []
    for first, second in pairs:
        effect = hunk_effect(
            flips=flips,
            controls=controls,
            baseline=baseline,
            candidate=candidate,
            reverted=reverted[(first, second)],
        )
        alone = max(single[first]["explained"], single[second]["explained"])
        if effect["explained"] > alone:
            found.append(
                {
                    "hunks": [first, second],
                    "labels": [single[first]["label"], single[second]["label"]],
                    **effect,
                    "gain": effect["explained"] - alone,
                }
            )
    found.sort(key=lambda row: (-row["explained"], row["p"]))
    return found
