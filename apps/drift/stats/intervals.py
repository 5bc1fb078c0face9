"""Intervals: Wilson's for a proportion, the paired cluster bootstrap for a paired difference."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from statsmodels.stats.proportion import proportion_confint

# Intervals are 95% whatever alpha the drift guard tests at: the level readers expect to see.
INTERVAL_ALPHA = 0.05


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
