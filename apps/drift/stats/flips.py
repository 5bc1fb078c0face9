"""Flips: the pairs whose verdict changed, and how one flip counts in each direction test."""

from __future__ import annotations

from typing import Any

import numpy as np

from apps.drift.stats.outcomes import DIRECTIONS, INVALID, POSITION, VERDICTS, PairedOutcomes
from apps.drift.stats.values import json_ready


def flip_moves(
    baseline: str,
    candidate: str,
    *,
    length_a: float,
    length_b: float,
    refuses_a: bool,
    refuses_b: bool,
) -> dict[str, int]:
    """How one pair's change of verdict counts in each direction test of the report.

    Per direction (``toward_longer``, ``toward_refusal``, ``toward_position_a``): +1 when the
    flip moved toward the response with more of that property, -1 when it moved away, 0 when it
    does not count (no flip, an ``invalid`` verdict, or the property does not tell the
    responses apart). The same rule as the direction tests of :func:`compute_drift_report`, for
    one pair, so pages can filter the flip list by direction.
    """
    codes = {label: code for code, label in enumerate(VERDICTS)}
    if baseline not in codes or candidate not in codes:
        raise ValueError(f"verdicts must be among {list(VERDICTS)}")
    before, after = codes[baseline], codes[candidate]
    if INVALID in (before, after):
        step = 0
    else:
        step = int(np.sign(int(POSITION[after]) - int(POSITION[before])))
    favours_a = {
        "toward_longer": int(np.sign(length_a - length_b)),
        "toward_refusal": int(refuses_a) - int(refuses_b),
        "toward_position_a": 1,
    }
    return {key: step * favours_a[key] for key in DIRECTIONS}


def flip_list(outcomes: PairedOutcomes) -> list[dict[str, Any]]:
    """Every pair whose verdict changed, in input order, with both verdicts and the gold label."""
    indices = np.flatnonzero(outcomes.baseline_code != outcomes.candidate_code)
    pair_ids: list[Any] = (
        [None] * indices.size
        if outcomes.pair_id is None
        else [json_ready(item) for item in outcomes.pair_id[indices].tolist()]
    )
    columns = zip(
        indices.tolist(),
        pair_ids,
        outcomes.domain[indices].tolist(),
        outcomes.gold[indices].tolist(),
        outcomes.baseline[indices].tolist(),
        outcomes.candidate[indices].tolist(),
        strict=True,
    )
    return [
        {
            "index": index,
            "pair_id": pair_id,
            "domain": domain,
            "gold": gold,
            "baseline": baseline,
            "candidate": candidate,
        }
        for index, pair_id, domain, gold, baseline, candidate in columns
    ]
