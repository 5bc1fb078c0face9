"""Benchmark: a full drift report on 100,000 pairs, 20 domains, 2,000 bootstrap resamples.

Prints the time of ``compute_drift_report`` and of a straightforward baseline bootstrap that loops
over resamples in Python (per resample and scope: draw prompt clusters, gather their pairs,
recompute both accuracies). The loop is too slow to run in full, so a subset of its resamples is
timed and extrapolated, as the output says. A middle point, the bootstrap as one (resamples x
clusters) index matrix, is timed as well.

Run from the repository root: ``.venv/bin/python bench/bench_drift_stats.py [--pairs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.drift.stats import (
    PairedOutcomes,
    compute_drift_report,
    paired_cluster_bootstrap,
)


def synthetic_outcomes(n_pairs: int, n_domains: int, seed: int) -> PairedOutcomes:
    """Pairs with 1-3 pairs per prompt; one domain drifts, the others improve a little."""
    rng = np.random.default_rng(seed)
    prompt_sizes = rng.integers(1, 4, size=n_pairs)
    prompt_of_pair = np.repeat(np.arange(prompt_sizes.size), prompt_sizes)[:n_pairs]
    domain_of_prompt = rng.integers(0, n_domains, size=prompt_sizes.size)
    domain_index = domain_of_prompt[prompt_of_pair]

    # "<U7" leaves room for "invalid"; np.where on "A"/"B" alone would make one-letter strings.
    gold = np.where(rng.random(n_pairs) < 0.5, "A", "B").astype("<U7")
    gold[rng.random(n_pairs) < 0.03] = "tie"
    wrong = np.where(gold == "A", "B", "A")

    def verdicts(p_right: np.ndarray) -> np.ndarray:
        draw = rng.random(n_pairs)
        out = np.where(draw < p_right, gold, wrong).astype("<U7")
        out = np.where(gold == "tie", np.where(draw < 0.5, "A", "B"), out)
        out[rng.random(n_pairs) < 0.05] = "tie"
        out[rng.random(n_pairs) < 0.01] = "invalid"
        return out

    baseline = verdicts(np.full(n_pairs, 0.75))
    shift = np.where(domain_index == 0, -0.08, 0.005)
    # The candidate keeps most baseline verdicts and redraws the rest around a shifted accuracy.
    candidate = np.where(rng.random(n_pairs) < 0.8, baseline, verdicts(0.75 + shift * 5))
    return PairedOutcomes.from_lists(
        domain=np.char.add("domain-", domain_index.astype(str)),
        gold=gold,
        baseline=baseline,
        candidate=candidate,
        length_a=rng.integers(20, 600, size=n_pairs),
        length_b=rng.integers(20, 600, size=n_pairs),
        refuses_a=rng.random(n_pairs) < 0.05,
        refuses_b=rng.random(n_pairs) < 0.05,
        cluster=np.char.add("prompt-", prompt_of_pair.astype(str)),
        pair_id=np.arange(n_pairs),
        baseline_consistent=rng.random(n_pairs) < 0.9,
        candidate_consistent=rng.random(n_pairs) < 0.9,
    )


def scopes_of(outcomes: PairedOutcomes) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(baseline score, candidate score, cluster code) of the scored pairs of each scope."""
    scored = outcomes.gold_code != 2

    def score(code: np.ndarray) -> np.ndarray:
        return np.where(code == outcomes.gold_code, 1.0, np.where(code == 2, 0.5, 0.0))

    base, cand = score(outcomes.baseline_code), score(outcomes.candidate_code)
    _, cluster = np.unique(np.asarray(outcomes.cluster), return_inverse=True)
    masks = [scored] + [scored & (outcomes.domain == d) for d in np.unique(outcomes.domain)]
    return [(base[m], cand[m], cluster[m]) for m in masks]


def loop_bootstrap(
    scopes: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_resamples: int,
    rng: np.random.Generator,
) -> float:
    """The straightforward version: per resample and scope, draw clusters, gather, recompute."""
    prepared = []
    for base, cand, cluster in scopes:
        _, members = np.unique(cluster, return_inverse=True)
        order = np.argsort(members, kind="stable")
        groups = np.split(order, np.cumsum(np.bincount(members))[:-1])
        prepared.append((base, cand, groups))
    start = time.perf_counter()
    for _ in range(n_resamples):
        for base, cand, groups in prepared:
            drawn = rng.integers(0, len(groups), size=len(groups))
            pairs = np.concatenate([groups[k] for k in drawn])
            _delta = cand[pairs].mean() - base[pairs].mean()
    return time.perf_counter() - start


def index_matrix_bootstrap(
    scopes: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_resamples: int,
    rng: np.random.Generator,
) -> float:
    """Vectorised over resamples with a (resamples x clusters) index matrix, in chunks."""
    start = time.perf_counter()
    for base, cand, cluster in scopes:
        _, members = np.unique(cluster, return_inverse=True)
        sums = np.bincount(members, weights=cand - base)
        sizes = np.bincount(members).astype(float)
        k = sums.size
        chunk = max(1, 4_000_000 // k)
        for first in range(0, n_resamples, chunk):
            rows = min(chunk, n_resamples - first)
            drawn = rng.integers(0, k, size=(rows, k))
            _deltas = sums[drawn].sum(axis=1) / sizes[drawn].sum(axis=1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-resamples", type=int, default=20)
    args = parser.parse_args()

    t0 = time.perf_counter()
    outcomes = synthetic_outcomes(args.pairs, args.domains, seed=1)
    build = time.perf_counter() - t0
    print(f"pairs {len(outcomes):,}, domains {args.domains}, resamples {args.resamples:,}")
    print(f"building the synthetic PairedOutcomes: {build:.3f} s (not part of the figures below)")

    compute_drift_report(outcomes, n_bootstrap=50)  # warm-up: imports, first-call caches
    timings = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        report = compute_drift_report(outcomes, n_bootstrap=args.resamples, seed=0)
        timings.append(time.perf_counter() - t0)
    report_time = statistics.median(timings)
    print(
        f"compute_drift_report: {report_time:.3f} s "
        f"(median of {args.repeats}; all: {', '.join(f'{t:.3f}' for t in timings)})"
    )
    overall = report["overall"]
    print(
        f"  overall delta {overall['delta'] * 100:+.2f} pts, CI "
        f"[{overall['delta_ci'][0] * 100:+.2f}, {overall['delta_ci'][1] * 100:+.2f}], "
        f"flips {overall['flips']:,}, flags {len(report['flags'])}, severity {report['severity']}"
    )

    scopes = scopes_of(outcomes)
    rng = np.random.default_rng(0)
    own = time.perf_counter()
    for base, cand, cluster in scopes:
        paired_cluster_bootstrap(cand - base, cluster, n_bootstrap=args.resamples, rng=rng)
    own_bootstrap = time.perf_counter() - own
    print(f"  of which the bootstrap of all {len(scopes)} scopes: {own_bootstrap:.3f} s")

    matrix = index_matrix_bootstrap(scopes, args.resamples, np.random.default_rng(0))
    print(f"index-matrix bootstrap (resamples x clusters), full {args.resamples:,}: {matrix:.3f} s")

    subset = min(args.loop_resamples, args.resamples)
    loop = loop_bootstrap(scopes, subset, np.random.default_rng(0))
    loop_full = loop / subset * args.resamples
    extrapolated = subset < args.resamples
    print(
        f"per-resample Python loop baseline: {loop:.3f} s for {subset} resamples"
        + (
            f", extrapolated to {args.resamples:,}: {loop_full:.1f} s (EXTRAPOLATED, not run)"
            if extrapolated
            else ""
        )
    )
    print(f"ratio loop baseline / compute_drift_report: {loop_full / report_time:.0f}x")
    print(f"ratio index-matrix bootstrap / compute_drift_report: {matrix / report_time:.1f}x")


if __name__ == "__main__":
    main()
