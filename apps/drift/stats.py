"""Drift statistics between a baseline and a candidate judging run on one reference snapshot.

Pure and database-free: the caller hands over one row per pair (a :class:`PairedOutcomes`) and
gets back a JSON-ready dict (:func:`compute_drift_report`). Definitions follow
docs/judging-and-drift.md; where that document leaves a choice open, the choice is stated here.

Conventions
-----------
- Accuracies, deltas, rates and thresholds are proportions in 0..1 (a delta of -0.098 is shown as
  -9.8 points). ``delta`` is candidate minus baseline, so a drop is negative.
- Accuracy counts pairs whose gold label is ``A`` or ``B``: 1 when the verdict equals the gold
  label, 0.5 for a ``tie`` verdict, 0 otherwise (``invalid`` included). ``n`` is the number of such
  pairs; gold ``tie`` pairs are reported as ``n_gold_tie`` and ``n_pairs`` counts all pairs.
- A verdict is *right* when it equals the gold label (score 1). A ``tie`` verdict is not right, so a
  change between right and tie is a McNemar discordance.
- A *flip* is any change of verdict between the two runs, over all pairs (gold ties included: a
  change of what the judge prefers is a change whatever the reference says), so
  ``flip_rate = flips / n_pairs``. Changes to or from ``invalid`` are flips but carry no direction.
- Tie rate, invalid rate and position consistency of each run are shares of all pairs.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.stats import binom, false_discovery_control, norm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from apps.drift.flags import (
    ACCURACY_SHARE,
    DIRECTION_SHARE,
    DriftThresholds,
    direction_notes,
    drift_flags,
    drift_severity,
)

__all__ = [
    "GOLD_LABELS",
    "VERDICTS",
    "DriftThresholds",
    "PairedOutcomes",
    "alert_family",
    "compute_drift_report",
    "connor_sample_size",
    "direction_test",
    "family_weights",
    "flip_moves",
    "holm_adjust",
    "mcnemar_exact_p",
    "minimum_detectable_drop",
    "paired_cluster_bootstrap",
    "sign_test_p",
    "weighted_holm",
    "wilson_interval",
]

VERDICTS: tuple[str, ...] = ("A", "B", "tie", "invalid")
GOLD_LABELS: tuple[str, ...] = ("A", "B", "tie")
_A, _B, _TIE, _INVALID = 0, 1, 2, 3

# Where each verdict sits on the scale from "B better" (-1) to "A better" (+1); invalid has no
# place and is masked out wherever this is used.
_POSITION = np.array([1, -1, 0, 0], dtype=np.int8)

DIRECTIONS: tuple[str, ...] = ("toward_longer", "toward_refusal", "toward_position_a")

DEFAULT_POWER = 0.8

# Intervals are 95% whatever alpha the drift guard tests at: the level readers expect to see.
INTERVAL_ALPHA = 0.05


def _encode(values: ArrayLike, allowed: Sequence[str], what: str) -> NDArray[np.int8]:
    """Labels as small integer codes (index in ``allowed``); unknown labels are an error."""
    arr = np.asarray(values, dtype=str)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    uniq, inverse = np.unique(arr, return_inverse=True)
    lookup = {label: i for i, label in enumerate(allowed)}
    unknown = [str(u) for u in uniq if str(u) not in lookup]
    if unknown:
        raise ValueError(f"{what}: unknown label(s) {unknown[:5]}; expected one of {list(allowed)}")
    codes = np.array([lookup[str(u)] for u in uniq], dtype=np.int8)
    return codes[inverse.reshape(-1)]


@dataclass(frozen=True, eq=False)
class PairedOutcomes:
    """One row per pair judged by both runs on the same reference snapshot.

    Arrays of equal length (:meth:`from_lists` and :meth:`from_records` build it from plain
    Python data):

    - ``domain``: the pair's domain key; ``gold``: ``A``, ``B`` or ``tie``;
    - ``baseline`` / ``candidate``: each run's pair verdict, ``A``, ``B``, ``tie`` or ``invalid``;
    - ``length_a`` / ``length_b``: lengths of the two responses (any unit, the same for both);
    - ``refuses_a`` / ``refuses_b``: whether each response refuses;
    - ``cluster``: the prompt key (e.g. a prompt hash); pairs sharing a prompt are resampled
      together. None makes every pair its own cluster;
    - ``pair_id``: optional ids carried into the flip list;
    - ``baseline_consistent`` / ``candidate_consistent``: optional, whether each run's two orders
      agreed on the pair (position consistency);
    - ``repeat_baseline``: optional verdicts of the baseline rubric judged a second time, for the
      noise floor.
    """

    domain: NDArray[np.str_]
    gold: NDArray[np.str_]
    baseline: NDArray[np.str_]
    candidate: NDArray[np.str_]
    length_a: NDArray[np.float64]
    length_b: NDArray[np.float64]
    refuses_a: NDArray[np.bool_]
    refuses_b: NDArray[np.bool_]
    cluster: NDArray[np.str_] | None = None
    pair_id: NDArray[np.object_] | None = None
    baseline_consistent: NDArray[np.bool_] | None = None
    candidate_consistent: NDArray[np.bool_] | None = None
    repeat_baseline: NDArray[np.str_] | None = None

    gold_code: NDArray[np.int8] = field(init=False, repr=False)
    baseline_code: NDArray[np.int8] = field(init=False, repr=False)
    candidate_code: NDArray[np.int8] = field(init=False, repr=False)
    repeat_code: NDArray[np.int8] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: coercion has to go through object.__setattr__.
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("domain", np.asarray(self.domain, dtype=str))
        n = self.domain.shape[0]
        for name in ("gold", "baseline", "candidate"):
            put(name, np.asarray(getattr(self, name), dtype=str))
        for name in ("length_a", "length_b"):
            put(name, np.asarray(getattr(self, name), dtype=np.float64))
        for name in ("refuses_a", "refuses_b"):
            put(name, np.asarray(getattr(self, name), dtype=bool))
        if self.cluster is None:
            put("cluster", np.arange(n).astype(str))
        else:
            put("cluster", np.asarray(self.cluster).astype(str))
        if self.pair_id is not None:
            put("pair_id", np.asarray(self.pair_id, dtype=object))
        for name in ("baseline_consistent", "candidate_consistent"):
            if getattr(self, name) is not None:
                put(name, np.asarray(getattr(self, name), dtype=bool))
        if self.repeat_baseline is not None:
            put("repeat_baseline", np.asarray(self.repeat_baseline, dtype=str))

        for name in (
            "gold",
            "baseline",
            "candidate",
            "length_a",
            "length_b",
            "refuses_a",
            "refuses_b",
            "cluster",
            "pair_id",
            "baseline_consistent",
            "candidate_consistent",
            "repeat_baseline",
        ):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(f"{name} has shape {value.shape}, expected ({n},) like domain")
        if not (np.isfinite(self.length_a).all() and np.isfinite(self.length_b).all()):
            raise ValueError("length_a and length_b must be finite numbers")

        put("gold_code", _encode(self.gold, GOLD_LABELS, "gold"))
        put("baseline_code", _encode(self.baseline, VERDICTS, "baseline"))
        put("candidate_code", _encode(self.candidate, VERDICTS, "candidate"))
        put(
            "repeat_code",
            None
            if self.repeat_baseline is None
            else _encode(self.repeat_baseline, VERDICTS, "repeat_baseline"),
        )

    def __len__(self) -> int:
        return int(self.domain.shape[0])

    @classmethod
    def from_lists(
        cls,
        *,
        domain: ArrayLike,
        gold: ArrayLike,
        baseline: ArrayLike,
        candidate: ArrayLike,
        length_a: ArrayLike,
        length_b: ArrayLike,
        refuses_a: ArrayLike,
        refuses_b: ArrayLike,
        cluster: ArrayLike | None = None,
        pair_id: ArrayLike | None = None,
        baseline_consistent: ArrayLike | None = None,
        candidate_consistent: ArrayLike | None = None,
        repeat_baseline: ArrayLike | None = None,
    ) -> PairedOutcomes:
        """Build from plain sequences (lists, tuples or arrays), one entry per pair."""

        def optional(values: ArrayLike | None, dtype: Any) -> Any:
            return None if values is None else np.asarray(values, dtype=dtype)

        return cls(
            domain=np.asarray(domain, dtype=str),
            gold=np.asarray(gold, dtype=str),
            baseline=np.asarray(baseline, dtype=str),
            candidate=np.asarray(candidate, dtype=str),
            length_a=np.asarray(length_a, dtype=np.float64),
            length_b=np.asarray(length_b, dtype=np.float64),
            refuses_a=np.asarray(refuses_a, dtype=bool),
            refuses_b=np.asarray(refuses_b, dtype=bool),
            cluster=None if cluster is None else np.asarray(cluster).astype(str),
            pair_id=optional(pair_id, object),
            baseline_consistent=optional(baseline_consistent, bool),
            candidate_consistent=optional(candidate_consistent, bool),
            repeat_baseline=optional(repeat_baseline, str),
        )

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> PairedOutcomes:
        """Build from one mapping per pair, keyed by the field names of this class.

        ``domain``, ``gold``, ``baseline``, ``candidate``, the lengths and the refusal flags are
        required; the optional fields are used only when every record has them.
        """
        rows = list(records)
        required = (
            "domain",
            "gold",
            "baseline",
            "candidate",
            "length_a",
            "length_b",
            "refuses_a",
            "refuses_b",
        )
        optional = (
            "cluster",
            "pair_id",
            "baseline_consistent",
            "candidate_consistent",
            "repeat_baseline",
        )
        columns: dict[str, Any] = {key: [row[key] for row in rows] for key in required}
        for key in optional:
            if rows and all(row.get(key) is not None for row in rows):
                columns[key] = [row[key] for row in rows]
        return cls.from_lists(**columns)


# --- single statistics -------------------------------------------------------------------------


def wilson_interval(score_sum: float, n: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """Wilson interval of a proportion (statsmodels), None when n is 0.

    With half scores for tie verdicts the proportion is the mean score, so ``score_sum`` may be a
    half-integer; the interval is then Wilson's at that proportion and n.
    """
    if n <= 0:
        return None
    low, high = proportion_confint(score_sum, n, alpha=alpha, method="wilson")
    # Wilson's bound is exactly 0 at 0 successes (1 at n), but the library's arithmetic can leave
    # a 1e-17 residue there; snap it so reports and comparisons see the exact bound.
    low = 0.0 if score_sum <= 0 else max(0.0, float(low))
    high = 1.0 if score_sum >= n else min(1.0, float(high))
    return low, high


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact McNemar p (statsmodels) from the two discordant counts; 1.0 when there are none."""
    if b + c == 0:
        return 1.0
    return float(mcnemar([[0, b], [c, 0]], exact=True).pvalue)


def direction_test(moved: NDArray[np.int8]) -> dict[str, float | int | None]:
    """Exact two-sided sign test (:func:`sign_test_p`, p=0.5) on flip directions.

    ``moved`` holds +1 for a flip toward the property, -1 for one away from it and 0 for pairs that
    do not count (no flip, invalid verdict, or the property does not tell the responses apart).
    Returns ``{share, n, p}``: the share of counted flips that moved toward the property.
    """
    n = int(np.count_nonzero(moved))
    if n == 0:
        return {"share": None, "n": 0, "p": None}
    toward = int(np.count_nonzero(moved > 0))
    return {"share": toward / n, "n": n, "p": float(sign_test_p(toward, n))}


def sign_test_p(
    successes: ArrayLike, trials: ArrayLike, *, alternative: str = "two-sided"
) -> NDArray[np.float64]:
    """Exact sign-test p-values (binomial with p = 1/2), element by element over arrays of counts.

    ``two-sided`` is scipy's ``binomtest(successes, trials, 0.5).pvalue``, which for p = 1/2 is
    twice the smaller tail, capped at 1 (and statsmodels' exact McNemar p on the discordant
    counts); ``greater`` is the chance of ``successes`` or more. Written over scipy's binomial
    distribution instead of calling ``binomtest`` because that takes one test at a time at about a
    millisecond each, and the alert family's simulation test runs tens of thousands of them; tests
    check that both agree. No trials gives 1.0.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if alternative == "greater":
        p = binom.sf(k - 1, n, 0.5)
    elif alternative == "two-sided":
        p = np.minimum(1.0, 2 * binom.cdf(np.minimum(k, n - k), n, 0.5))
    else:
        raise ValueError("alternative must be 'two-sided' or 'greater'")
    result: NDArray[np.float64] = np.where(n > 0, np.clip(p, 0.0, 1.0), 1.0)
    return result


def paired_cluster_bootstrap(
    diff: NDArray[np.float64],
    cluster: NDArray[np.integer[Any]],
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Bootstrap replicates of the mean paired difference, resampling clusters with replacement.

    ``diff`` is the per-pair difference (candidate score - baseline score), so both runs are
    resampled jointly; ``cluster`` gives each pair's cluster (prompt). Each replicate draws as many
    clusters as there are, with replacement, and returns sum(diff)/pairs over the drawn clusters.

    The replicate depends only on how many clusters of each *type* (cluster sum of diff, cluster
    size) were drawn, and drawing K clusters uniformly is the same as a multinomial draw of type
    counts with probabilities proportional to the types' frequencies. The types are few (pair
    differences are multiples of 0.5), so a (n_bootstrap x types) multinomial matrix replaces the
    (n_bootstrap x K) matrix of drawn indices: same distribution, a tiny fraction of the work.
    """
    if diff.shape != cluster.shape:
        raise ValueError("diff and cluster must have the same shape")
    if diff.size == 0:
        raise ValueError("cannot bootstrap an empty sample")
    _, members = np.unique(cluster, return_inverse=True)
    members = members.reshape(-1)
    sums = np.bincount(members, weights=diff)
    sizes = np.bincount(members).astype(np.float64)
    # One integer code per (sum, size) type: two 1-D uniques and an integer unique are an order
    # of magnitude faster than np.unique(..., axis=0) on the stacked float rows.
    _, sum_code = np.unique(sums, return_inverse=True)
    size_values, size_code = np.unique(sizes, return_inverse=True)
    _, first, frequency = np.unique(
        sum_code * size_values.size + size_code, return_index=True, return_counts=True
    )
    n_clusters = int(sizes.shape[0])
    counts = rng.multinomial(n_clusters, frequency / n_clusters, size=n_bootstrap)
    replicates: NDArray[np.float64] = (counts @ sums[first]) / (counts @ sizes[first])
    return replicates


def connor_sample_size(
    delta: float,
    discordance: float,
    *,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
) -> float:
    """Pairs needed to detect a difference ``delta`` between paired proportions (McNemar test).

    Connor, R. J. (1987). Sample size for testing differences in proportions for the paired-sample
    design. Biometrics 43(1), 207-211:

        n = (z_{1-alpha/2} * sqrt(psi) + z_{power} * sqrt(psi - delta^2))^2 / delta^2

    where ``psi`` (``discordance``) is the probability that a pair is discordant (right in one run
    only) and ``delta`` the difference of the two discordance cells, i.e. the accuracy change.
    Requires 0 < delta <= psi <= 1.
    """
    if not 0 < delta <= discordance <= 1:
        raise ValueError("need 0 < delta <= discordance <= 1")
    return _connor_n(delta, discordance, *_z_values(alpha, power))


def _z_values(alpha: float, power: float) -> tuple[float, float]:
    return float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))


def _connor_n(delta: float, discordance: float, z_alpha: float, z_power: float) -> float:
    root = z_alpha * math.sqrt(discordance) + z_power * math.sqrt(discordance - delta**2)
    return root**2 / delta**2


def minimum_detectable_drop(
    n: int,
    discordance: float,
    *,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
) -> float | None:
    """The smallest accuracy drop that ``n`` pairs detect with the given power (Connor 1987).

    Solves ``connor_sample_size(delta, psi) = n`` for delta (scipy ``brentq``; the left side falls
    as delta grows), with ``psi = max(discordance, delta)``: the observed discordance rate is the
    planning value, but a drop of delta needs at least delta of the pairs to be discordant, so where
    the observed rate is smaller (none observed, or a tiny domain) the least discordance compatible
    with the drop is used. Returns None when even a drop of 100 points would go undetected
    (n < z_{1-alpha/2}^2, i.e. three pairs or fewer at alpha 0.05).
    """
    if n <= 0:
        return None
    discordance = min(max(discordance, 0.0), 1.0)
    z_alpha, z_power = _z_values(alpha, power)

    def excess(delta: float) -> float:
        return _connor_n(delta, max(discordance, delta), z_alpha, z_power) - n

    if excess(1.0) > 0:
        return None
    return float(brentq(excess, 1e-12, 1.0, xtol=1e-12, rtol=1e-12))


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
    if _INVALID in (before, after):
        step = 0
    else:
        step = int(np.sign(int(_POSITION[after]) - int(_POSITION[before])))
    favours_a = {
        "toward_longer": int(np.sign(length_a - length_b)),
        "toward_refusal": int(refuses_a) - int(refuses_b),
        "toward_position_a": 1,
    }
    return {key: step * favours_a[key] for key in DIRECTIONS}


# --- the report --------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A finite Python float, or None (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _interval(bounds: tuple[float, float] | None) -> list[float | None] | None:
    return None if bounds is None else [_num(bounds[0]), _num(bounds[1])]


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
    scored = gold != _TIE

    def score(verdict: NDArray[np.int8]) -> NDArray[np.float64]:
        return np.where(verdict == gold, 1.0, np.where(verdict == _TIE, 0.5, 0.0)) * scored

    baseline_score, candidate_score = score(baseline), score(candidate)
    # __post_init__ fills a missing cluster column with one cluster per pair.
    clusters = outcomes.cluster if outcomes.cluster is not None else np.arange(len(outcomes))
    _, cluster = np.unique(clusters[order], return_inverse=True)

    valid = (baseline != _INVALID) & (candidate != _INVALID)
    step = np.sign(_POSITION[candidate] - _POSITION[baseline]) * valid
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

    delta: float | None = None
    delta_ci: list[float | None] | None = None
    if n:
        delta = (candidate_sum - baseline_sum) / n
        replicates = paired_cluster_bootstrap(
            prep.diff[part][scored],
            prep.cluster[part][scored],
            n_bootstrap=n_bootstrap,
            rng=rng,
        )
        low, high = np.quantile(replicates, [INTERVAL_ALPHA / 2, 1 - INTERVAL_ALPHA / 2])
        # "+ 0.0" turns a -0.0 quantile into 0.0, which reads better in a report.
        delta_ci = [_num(low + 0.0), _num(high + 0.0)]

    flips = int(np.count_nonzero(prep.flipped[part]))
    discordance = (b + c) / n if n else None

    noise_floor: float | None = None
    noise_source: str | None = None
    if prep.repeat_flipped is not None:
        noise_floor, noise_source = _share(prep.repeat_flipped[part]), "repeat"
    elif prep.baseline_consistent is not None and n_pairs:
        noise_floor = 1.0 - float(prep.baseline_consistent[part].mean())
        noise_source = "order_inconsistency"

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
        "baseline_tie_rate": _share(baseline == _TIE),
        "candidate_tie_rate": _share(candidate == _TIE),
        "baseline_invalid_rate": _share(baseline == _INVALID),
        "candidate_invalid_rate": _share(candidate == _INVALID),
        "baseline_position_consistency": consistency(prep.baseline_consistent),
        "candidate_position_consistency": consistency(prep.candidate_consistent),
        "noise_floor": noise_floor,
        "noise_floor_source": noise_source,
    }


def holm_adjust(p_values: ArrayLike) -> NDArray[np.float64]:
    """Holm step-down adjusted p-values, in the order given (:func:`weighted_holm`, equal weights).

    The tests compare it with statsmodels' ``multipletests(method="holm")``, which is not called
    here because it runs a full ``gc.collect()`` on every Holm call (a tenth of a second or more
    in a process with a large heap).
    """
    p = np.asarray(p_values, dtype=np.float64)
    return weighted_holm(p, np.ones_like(p))


def weighted_holm(p_values: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """Holm's weighted step-down adjusted p-values (Holm 1979), along the last axis.

    A NaN p-value is a test that was not performed: it takes no weight and its adjusted p is NaN.
    The weights of the performed tests are normalised to sum to 1 in each row. Tests are taken in
    order of ``p / w``; the one at sorted position j gets ``max_{k<=j} min(1, p_k / w_k * W_k)``
    where ``W_k`` is the weight of the tests from position k on. Rejecting the tests whose
    adjusted p is below alpha controls the family-wise error rate at alpha under any dependence
    between the tests. With equal weights this is Holm's ordinary adjustment.

    Hand-written because neither statsmodels nor scipy offers a weighted Holm; leading axes let
    the simulation test adjust thousands of reports in one call.
    """
    p = np.asarray(p_values, dtype=np.float64)
    performed = ~np.isnan(p)
    w = np.where(performed, np.broadcast_to(np.asarray(weights, dtype=np.float64), p.shape), 0.0)
    if (w[performed] <= 0).any():
        raise ValueError("every performed test needs a positive weight")
    total = w.sum(axis=-1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(performed, p / w, np.inf)
    order = np.argsort(ratio, axis=-1, kind="stable")
    ratio_sorted = np.take_along_axis(ratio, order, axis=-1)
    remaining = np.flip(np.cumsum(np.flip(np.take_along_axis(w, order, axis=-1), -1), -1), -1)
    # Tests not performed sort last (ratio inf), so the running maximum of the others ignores them.
    with np.errstate(invalid="ignore"):
        stepped = np.where(np.isfinite(ratio_sorted), np.minimum(1.0, ratio_sorted * remaining), 1)
    adjusted = np.empty_like(p)
    np.put_along_axis(adjusted, order, np.maximum.accumulate(stepped, axis=-1), axis=-1)
    adjusted[~performed] = np.nan
    return adjusted


def alert_family(
    overall: dict[str, Any],
    by_domain: dict[str, dict[str, Any]],
    thresholds: DriftThresholds,
) -> dict[str, Any]:
    """Adjust every test that can open an alert as one family, and record the result on each.

    The family: the accuracy test of the overall scope and of each domain (one-sided exact
    McNemar, ``p_drop``: only a drop can open an alert), and each direction sign test, overall and
    per domain, that has at least ``min_flips_for_direction`` informative flips (a test with
    fewer is never performed; whether it is depends only on how many flips there are, not on which
    way they went). Weighted Holm (:func:`weighted_holm`) at the guard's alpha: the accuracy
    tests share ``ACCURACY_SHARE`` of the weight equally, the direction tests the rest (all of
    it goes to one kind when the other has no test). The family-wise error rate, the chance that
    a report of an edit that changed nothing opens an alert, is then at most alpha.

    Writes ``p_holm`` (adjusted) and ``survived`` (adjusted p < alpha) on each scope (its
    accuracy test) and on each direction test (None on a test not performed), and returns
    ``{alpha, method, tests: [{test, domain, p, p_adjusted, weight, survived}]}``.
    """
    scopes: list[tuple[str | None, dict[str, Any]]] = [(None, overall)]
    scopes += [(domain, by_domain[domain]) for domain in sorted(by_domain)]
    members: list[tuple[str, str | None, dict[str, Any], float]] = []
    for domain, scope in scopes:
        scope["p_holm"], scope["survived"] = None, None
        if scope.get("p_drop") is not None:
            members.append(("accuracy", domain, scope, scope["p_drop"]))
    for domain, scope in scopes:
        for key in DIRECTIONS:
            test = scope["direction"][key]
            test["p_holm"], test["survived"] = None, None
            if test["p"] is not None and test["n"] >= thresholds.min_flips_for_direction:
                members.append((key, domain, test, test["p"]))

    weights = family_weights(np.array([kind == "accuracy" for kind, *_ in members], dtype=bool))
    raw = np.array([p for *_, p in members], dtype=np.float64)
    adjusted = weighted_holm(raw, weights) if members else raw
    tests = []
    for (kind, domain, target, p), p_adjusted, weight in zip(
        members, adjusted, weights, strict=True
    ):
        survived = bool(p_adjusted < thresholds.alpha)
        target["p_holm"], target["survived"] = float(p_adjusted), survived
        tests.append(
            {
                "test": kind,
                "domain": domain,
                "p": float(p),
                "p_adjusted": float(p_adjusted),
                "weight": float(weight),
                "survived": survived,
            }
        )
    return {
        "alpha": thresholds.alpha,
        "method": (
            f"weighted Holm: accuracy tests {ACCURACY_SHARE:g} of alpha, "
            f"direction tests {DIRECTION_SHARE:g}"
        ),
        "tests": tests,
    }


def family_weights(
    is_accuracy: NDArray[np.bool_], performed: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Weights of the alert family's tests along the last axis (see :func:`alert_family`).

    ``is_accuracy`` marks the accuracy tests among the family's columns; ``performed`` (same
    shape, or broadcastable; all by default) which tests a report performed. The performed
    accuracy tests share ``ACCURACY_SHARE`` equally and the performed direction tests the rest;
    a kind with no performed test leaves its share to the other. Tests not performed get 0.
    """
    accuracy = np.asarray(is_accuracy, dtype=bool)
    done = np.ones(accuracy.shape, dtype=bool) if performed is None else performed
    done = np.broadcast_to(done, np.broadcast_shapes(np.shape(done), accuracy.shape))
    accuracy = np.broadcast_to(accuracy, done.shape)
    n_accuracy = (done & accuracy).sum(axis=-1, keepdims=True)
    n_direction = (done & ~accuracy).sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(accuracy, ACCURACY_SHARE / n_accuracy, DIRECTION_SHARE / n_direction)
    raw = np.where(done, share, 0.0)
    total = raw.sum(axis=-1, keepdims=True)
    weights: NDArray[np.float64] = np.divide(raw, total, out=np.zeros(raw.shape), where=total > 0)
    return weights


def _adjust_bh(scopes: list[dict[str, Any]]) -> None:
    """Benjamini-Hochberg q-values of the domains' two-sided McNemar p, written back in place."""
    tested = [scope for scope in scopes if scope.get("mcnemar_p") is not None]
    if not tested:
        return
    q_values = false_discovery_control([scope["mcnemar_p"] for scope in tested], method="bh")
    for scope, q_bh in zip(tested, q_values, strict=True):
        scope["q_bh"] = float(q_bh)


def _scope_rng(seed: int, domain: str | None) -> np.random.Generator:
    """A generator per scope, so one domain's interval does not depend on which others exist."""
    entropy = [seed, 0] if domain is None else [seed, 1, zlib.crc32(domain.encode("utf-8"))]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _json_ready(value: Any) -> Any:
    """Recursively turn numpy scalars into Python values and non-finite floats into None."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _num(value)
    return value


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

    _adjust_bh(list(by_domain.values()))
    family = alert_family(overall, by_domain, thresholds)

    report: dict[str, Any] = _json_ready({"overall": overall, "by_domain": by_domain})
    flags = drift_flags(report["overall"], report["by_domain"], thresholds)
    report["flags"] = _json_ready(flags)
    report["severity"] = drift_severity(flags)
    report["family"] = _json_ready(family)
    report["direction_notes"] = _json_ready(
        direction_notes(report["overall"], report["by_domain"], thresholds)
    )
    report["flipped"] = _flip_list(outcomes)
    report["thresholds"] = asdict(thresholds)
    report["bootstrap"] = {
        "n_resamples": n_bootstrap,
        "seed": seed,
        "level": 1 - INTERVAL_ALPHA,
        "method": "paired cluster bootstrap, percentile interval",
    }
    return report


def _flip_list(outcomes: PairedOutcomes) -> list[dict[str, Any]]:
    """Every pair whose verdict changed, in input order, with both verdicts and the gold label."""
    indices = np.flatnonzero(outcomes.baseline_code != outcomes.candidate_code)
    pair_ids: list[Any] = (
        [None] * indices.size
        if outcomes.pair_id is None
        else [_json_ready(item) for item in outcomes.pair_id[indices].tolist()]
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
