"""The drift report: every statistic of each scope (all pairs, each domain), the alert family,
the flags and the flip list, as one JSON-ready dict (``compute_drift_report``)."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.drift.flags import (
    ACCURACY_SHARE,
    DriftThresholds,
    direction_notes,
    drift_flags,
    drift_severity,
)
from apps.drift.stats.family import adjust_bh, alert_family
from apps.drift.stats.flips import flip_list
from apps.drift.stats.intervals import INTERVAL_ALPHA, paired_cluster_bootstrap, wilson_interval
from apps.drift.stats.outcomes import DIRECTIONS, INVALID, POSITION, TIE, PairedOutcomes
from apps.drift.stats.sample_size import DEFAULT_POWER, minimum_detectable_drop
from apps.drift.stats.significance import direction_test, mcnemar_exact_p, sign_test_p
from apps.drift.stats.values import json_ready, num


def _interval(bounds: tuple[float, float] | None) -> list[float | None] | None:
    return None if bounds is None else [num(bounds[0]), num(bounds[1])]


def _share(mask: NDArray[np.bool_]) -> float | None:
    return float(mask.mean()) if mask.size else None


@dataclass(frozen=True)
class _Prepared:
    """Per-pair arrays derived once, sorted by domain so each domain is a contiguous slice."""

    domains: list[str]
    slices: list[slice]
    scored: NDArray[np.bool_]
    diff: NDArray[np.float64]
    baseline_score: NDArray[np.float64]
    candidate_score: NDArray[np.float64]
    baseline_right: NDArray[np.bool_]
    candidate_right: NDArray[np.bool_]
    baseline: NDArray[np.int8]
    candidate: NDArray[np.int8]
    flipped: NDArray[np.bool_]
    cluster: NDArray[np.intp]
    moved: dict[str, NDArray[np.int8]]
    baseline_consistent: NDArray[np.bool_] | None
    candidate_consistent: NDArray[np.bool_] | None
    repeat_flipped: NDArray[np.bool_] | None


def _prepare(outcomes: PairedOutcomes) -> _Prepared:
    domain_names, domain_index = np.unique(outcomes.domain, return_inverse=True)
    order = np.argsort(domain_index.reshape(-1), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(domain_index.reshape(-1)))])
    slices = [slice(int(bounds[i]), int(bounds[i + 1])) for i in range(len(domain_names))]

    gold = outcomes.gold_code[order]
    baseline = outcomes.baseline_code[order]
    candidate = outcomes.candidate_code[order]
    scored = gold != TIE

    def score(verdict: NDArray[np.int8]) -> NDArray[np.float64]:
        return np.where(verdict == gold, 1.0, np.where(verdict == TIE, 0.5, 0.0)) * scored

    baseline_score, candidate_score = score(baseline), score(candidate)
    # __post_init__ fills a missing cluster column with one cluster per pair.
    clusters = outcomes.cluster if outcomes.cluster is not None else np.arange(len(outcomes))
    _, cluster = np.unique(clusters[order], return_inverse=True)

    valid = (baseline != INVALID) & (candidate != INVALID)
    step = np.sign(POSITION[candidate] - POSITION[baseline]) * valid
    refusal = outcomes.refuses_a.astype(np.int8) - outcomes.refuses_b.astype(np.int8)
    favours_a = {
        "toward_longer": np.sign(outcomes.length_a - outcomes.length_b)[order].astype(np.int8),
        "toward_refusal": refusal[order],
        # Verdicts are in terms of the pair's own A and B, and A is the response shown first in
        # the canonical order, so "toward position A" is simply "toward A".
        "toward_position_a": np.ones(len(outcomes), dtype=np.int8),
    }

    def sorted_or_none(values: NDArray[np.bool_] | None) -> NDArray[np.bool_] | None:
        return None if values is None else values[order]

    repeat = outcomes.repeat_code
    return _Prepared(
        domains=[str(name) for name in domain_names],
        slices=slices,
        scored=scored,
        diff=candidate_score - baseline_score,
        baseline_score=baseline_score,
        candidate_score=candidate_score,
        baseline_right=scored & (baseline == gold),
        candidate_right=scored & (candidate == gold),
        baseline=baseline,
        candidate=candidate,
        flipped=baseline != candidate,
        cluster=cluster.reshape(-1),
        moved={key: (step * favour).astype(np.int8) for key, favour in favours_a.items()},
        baseline_consistent=sorted_or_none(outcomes.baseline_consistent),
        candidate_consistent=sorted_or_none(outcomes.candidate_consistent),
        repeat_flipped=None if repeat is None else (repeat[order] != baseline),
    )


def _delta_interval(
    prep: _Prepared, part: slice, *, rng: np.random.Generator, n_bootstrap: int
) -> list[float | None]:
    """The paired cluster-bootstrap percentile interval of a scope's accuracy change."""
    scored = prep.scored[part]
    replicates = paired_cluster_bootstrap(
        prep.diff[part][scored],
        prep.cluster[part][scored],
        n_bootstrap=n_bootstrap,
        rng=rng,
    )
    low, high = np.quantile(replicates, [INTERVAL_ALPHA / 2, 1 - INTERVAL_ALPHA / 2])
    # "+ 0.0" turns a -0.0 quantile into 0.0, which reads better in a report.
    return [num(low + 0.0), num(high + 0.0)]


def _noise_floor(prep: _Prepared, part: slice) -> tuple[float | None, str | None]:
    """The scope's noise floor and where it comes from: the baseline judged again (``repeat``),
    else the baseline's disagreement between the two orders, else none."""
    if prep.repeat_flipped is not None:
        return _share(prep.repeat_flipped[part]), "repeat"
    if prep.baseline_consistent is not None and prep.scored[part].size:
        return 1.0 - float(prep.baseline_consistent[part].mean()), "order_inconsistency"
    return None, None


def _scope_stats(
    prep: _Prepared,
    part: slice,
    *,
    rng: np.random.Generator,
    n_bootstrap: int,
    alpha: float,
    power: float,
) -> dict[str, Any]:
    """Every statistic of one scope (a domain's slice, or all pairs)."""
    scored = prep.scored[part]
    n_pairs = int(scored.size)
    n = int(np.count_nonzero(scored))
    baseline = prep.baseline[part]
    candidate = prep.candidate[part]

    baseline_sum = float(prep.baseline_score[part].sum())
    candidate_sum = float(prep.candidate_score[part].sum())
    b = int(np.count_nonzero(prep.baseline_right[part] & ~prep.candidate_right[part]))
    c = int(np.count_nonzero(prep.candidate_right[part] & ~prep.baseline_right[part]))

    delta = (candidate_sum - baseline_sum) / n if n else None
    delta_ci = _delta_interval(prep, part, rng=rng, n_bootstrap=n_bootstrap) if n else None
    flips = int(np.count_nonzero(prep.flipped[part]))
    discordance = (b + c) / n if n else None
    noise_floor, noise_source = _noise_floor(prep, part)

    def consistency(values: NDArray[np.bool_] | None) -> float | None:
        return None if values is None else _share(values[part])

    return {
        "n": n,
        "n_pairs": n_pairs,
        "n_gold_tie": n_pairs - n,
        "baseline_accuracy": baseline_sum / n if n else None,
        "candidate_accuracy": candidate_sum / n if n else None,
        "baseline_ci": _interval(wilson_interval(baseline_sum, n, INTERVAL_ALPHA)),
        "candidate_ci": _interval(wilson_interval(candidate_sum, n, INTERVAL_ALPHA)),
        "delta": delta,
        "delta_ci": delta_ci,
        "discordant": {"baseline_only_right": b, "candidate_only_right": c},
        "discordance_rate": discordance,
        "mcnemar_p": mcnemar_exact_p(b, c) if n else None,
        "p_drop": float(sign_test_p(b, b + c, alternative="greater")) if n else None,
        "p_holm": None,
        "survived": None,
        "q_bh": None,
        "flips": flips,
        "flip_rate": flips / n_pairs if n_pairs else None,
        "direction": {key: direction_test(prep.moved[key][part]) for key in DIRECTIONS},
        "mde": (
            minimum_detectable_drop(n, discordance or 0.0, alpha=alpha, power=power) if n else None
        ),
        "baseline_tie_rate": _share(baseline == TIE),
        "candidate_tie_rate": _share(candidate == TIE),
        "baseline_invalid_rate": _share(baseline == INVALID),
        "candidate_invalid_rate": _share(candidate == INVALID),
        "baseline_position_consistency": consistency(prep.baseline_consistent),
        "candidate_position_consistency": consistency(prep.candidate_consistent),
        "noise_floor": noise_floor,
        "noise_floor_source": noise_source,
    }


def _scope_rng(seed: int, domain: str | None) -> np.random.Generator:
    """A generator per scope, so one domain's interval does not depend on which others exist."""
    entropy = [seed, 0] if domain is None else [seed, 1, zlib.crc32(domain.encode("utf-8"))]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def compute_drift_report(
    outcomes: PairedOutcomes,
    thresholds: DriftThresholds | None = None,
    *,
    n_bootstrap: int = 2000,
    seed: int = 0,
    power: float = DEFAULT_POWER,
) -> dict[str, Any]:
    """Statistics, flags and flip list of a baseline-vs-candidate drift report.

    Returns a JSON-ready dict (no NaN, only Python scalars)::

        {"overall": {...}, "by_domain": {domain: {...}}, "flags": [...], "severity": ...,
         "family": {alpha, method, tests: [...]}, "direction_notes": [...],
         "flipped": [{index, pair_id, domain, gold, baseline, candidate}, ...],
         "thresholds": {...}, "bootstrap": {n_resamples, seed, level, method}}

    Each scope holds n, n_pairs, n_gold_tie, both accuracies with Wilson intervals, delta
    (candidate - baseline, proportion) with its paired cluster-bootstrap percentile interval,
    the two-sided McNemar exact p (``q_bh``: Benjamini-Hochberg across domains, None on
    ``overall``), the one-sided exact McNemar p of a drop (``p_drop``) with its adjusted p in the
    alert family (``p_holm``) and whether it survived, flip count and rate, the direction sign
    tests ``{share, n, p, p_holm, survived}``, the minimum detectable drop (``mde``, Connor 1987
    at the level the alert family gives the scope's accuracy test, with ``power``), tie and
    invalid rates, position consistency of each run and the noise floor when the inputs allow.

    Every test that can open an alert belongs to one family, adjusted together
    (:func:`alert_family`); ``flags`` are the findings that survive it and open an alert.
    ``direction_notes`` are direction tests significant on their own that did not survive:
    shown on the report as information, they open nothing.

    Direction of a flip: a verdict sits at +1 (A), 0 (tie) or -1 (B); a flip moves *toward X* when
    it moves along that scale toward the response that has more of X (the longer one, the one that
    refuses, the one in position A) and *away* when it moves the other way. A full step (A to B)
    and a half step (A to tie, tie to B) count alike, one trial each. Flips to or from ``invalid``
    and flips where X does not tell the responses apart (equal lengths, both or neither refusing)
    are left out of that test's n. ``share`` is the share of counted flips that moved toward X,
    tested against 0.5 with an exact two-sided sign test.

    The bootstrap resamples the scope's prompt clusters with replacement, both runs together, with
    a generator seeded from ``seed`` and the scope's name, so the same inputs give the same report.
    """
    thresholds = thresholds or DriftThresholds()
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")

    prep = _prepare(outcomes)
    # The minimum detectable drop is Connor's two-sided formula at twice the level a lone drop's
    # one-sided test has in the alert family, i.e. that one-sided test's own power.
    accuracy_tests = len(prep.domains) + 1
    options: dict[str, Any] = {
        "n_bootstrap": n_bootstrap,
        "alpha": 2 * thresholds.alpha * ACCURACY_SHARE / accuracy_tests,
        "power": power,
    }
    overall = _scope_stats(prep, slice(None), rng=_scope_rng(seed, None), **options)
    by_domain = {
        domain: _scope_stats(prep, part, rng=_scope_rng(seed, domain), **options)
        for domain, part in zip(prep.domains, prep.slices, strict=True)
    }

    adjust_bh(list(by_domain.values()))
    family = alert_family(overall, by_domain, thresholds)

    report: dict[str, Any] = json_ready({"overall": overall, "by_domain": by_domain})
    flags = drift_flags(report["overall"], report["by_domain"], thresholds)
    report["flags"] = json_ready(flags)
    report["severity"] = drift_severity(flags)
    report["family"] = json_ready(family)
    report["direction_notes"] = json_ready(
        direction_notes(report["overall"], report["by_domain"], thresholds)
    )
    report["flipped"] = flip_list(outcomes)
    report["thresholds"] = asdict(thresholds)
    report["bootstrap"] = {
        "n_resamples": n_bootstrap,
        "seed": seed,
        "level": 1 - INTERVAL_ALPHA,
        "method": "paired cluster bootstrap, percentile interval",
    }
    return report
