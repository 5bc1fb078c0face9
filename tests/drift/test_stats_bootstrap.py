"""The paired cluster bootstrap of the accuracy delta."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from apps.drift.stats import PairedOutcomes, compute_drift_report, paired_cluster_bootstrap


def outcomes(
    baseline: list[str],
    candidate: list[str],
    *,
    domain: list[str] | None = None,
    cluster: list[str] | None = None,
    gold: list[str] | None = None,
) -> PairedOutcomes:
    n = len(baseline)
    return PairedOutcomes.from_lists(
        domain=domain or ["d"] * n,
        gold=gold or ["A"] * n,
        baseline=baseline,
        candidate=candidate,
        length_a=[10] * n,
        length_b=[10] * n,
        refuses_a=[False] * n,
        refuses_b=[False] * n,
        cluster=cluster,
    )


def random_verdicts(rng: np.random.Generator, n: int, p_right: float) -> list[str]:
    return ["A" if right else "B" for right in rng.random(n) < p_right]


def test_identical_runs_give_delta_zero_and_interval_zero() -> None:
    rng = np.random.default_rng(1)
    verdicts = [str(v) for v in rng.choice(["A", "B", "tie", "invalid"], size=300)]
    report = compute_drift_report(outcomes(verdicts, verdicts), n_bootstrap=500)
    assert report["overall"]["delta"] == 0.0
    assert report["overall"]["delta_ci"] == [0.0, 0.0]


def test_shifted_runs_give_an_interval_around_the_delta() -> None:
    rng = np.random.default_rng(2)
    baseline = random_verdicts(rng, 800, 0.8)
    # The candidate loses 80 of the baseline's right answers and gains nothing.
    candidate = list(baseline)
    right = [i for i, v in enumerate(baseline) if v == "A"]
    for i in rng.choice(right, size=80, replace=False):
        candidate[i] = "B"
    overall = compute_drift_report(outcomes(baseline, candidate), n_bootstrap=2000)["overall"]
    low, high = overall["delta_ci"]
    assert overall["delta"] == pytest.approx(-80 / 800)
    assert low < overall["delta"] < high < 0


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    rng = np.random.default_rng(3)
    data = outcomes(random_verdicts(rng, 400, 0.7), random_verdicts(rng, 400, 0.7))
    first = compute_drift_report(data, n_bootstrap=400, seed=7)
    again = compute_drift_report(data, n_bootstrap=400, seed=7)
    other = compute_drift_report(data, n_bootstrap=400, seed=8)
    assert first == again
    assert first["overall"]["delta_ci"] != other["overall"]["delta_ci"]


def test_a_domain_interval_does_not_depend_on_other_domains() -> None:
    rng = np.random.default_rng(4)
    base, cand = random_verdicts(rng, 200, 0.7), random_verdicts(rng, 200, 0.7)
    alone = compute_drift_report(outcomes(base, cand, domain=["x"] * 200), n_bootstrap=300)
    extra_base, extra_cand = random_verdicts(rng, 50, 0.6), random_verdicts(rng, 50, 0.6)
    with_other = compute_drift_report(
        outcomes(base + extra_base, cand + extra_cand, domain=["x"] * 200 + ["y"] * 50),
        n_bootstrap=300,
    )
    assert alone["by_domain"]["x"]["delta_ci"] == with_other["by_domain"]["x"]["delta_ci"]


def naive_cluster_bootstrap(
    diff: np.ndarray, cluster: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """Textbook version: draw cluster indices, gather their pairs, average."""
    keys, members = np.unique(cluster, return_inverse=True)
    groups = [np.flatnonzero(members == k) for k in range(len(keys))]
    out = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        drawn = rng.integers(0, len(groups), size=len(groups))
        pairs = np.concatenate([groups[k] for k in drawn])
        out[b] = diff[pairs].mean()
    return out


def test_type_multinomial_bootstrap_has_the_distribution_of_index_resampling() -> None:
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 5, size=150)
    cluster = np.repeat(np.arange(150), sizes)
    diff = rng.choice([-1.0, -0.5, 0.0, 0.0, 0.0, 0.5, 1.0], size=cluster.size)
    fast = paired_cluster_bootstrap(diff, cluster, n_bootstrap=20000, rng=np.random.default_rng(6))
    slow = naive_cluster_bootstrap(diff, cluster, 4000, np.random.default_rng(7))
    # Monte Carlo error of the mean is about sd / sqrt(4000) ~ 0.016 sd; allow a few of those.
    assert fast.mean() == pytest.approx(slow.mean(), abs=0.08 * slow.std())
    assert fast.std() == pytest.approx(slow.std(), rel=0.06)
    assert np.quantile(fast, [0.025, 0.975]) == pytest.approx(
        np.quantile(slow, [0.025, 0.975]), abs=0.2 * slow.std()
    )


def test_bootstrap_spread_matches_the_standard_error_for_independent_pairs() -> None:
    rng = np.random.default_rng(8)
    diff = rng.choice([-1.0, 0.0, 0.0, 1.0], size=1000)
    replicates = paired_cluster_bootstrap(
        diff, np.arange(1000), n_bootstrap=8000, rng=np.random.default_rng(9)
    )
    standard_error = diff.std() / np.sqrt(diff.size)
    assert replicates.std() == pytest.approx(standard_error, rel=0.05)
    assert replicates.mean() == pytest.approx(diff.mean(), abs=0.1 * standard_error)


def test_clustering_widens_the_interval_when_a_prompt_repeats() -> None:
    rng = np.random.default_rng(10)
    base, cand = random_verdicts(rng, 250, 0.75), random_verdicts(rng, 250, 0.75)
    # Each prompt appears in four pairs with the same outcomes: four times the data, no more
    # information. Treating the copies as independent narrows the interval by about half.
    repeated: dict[str, Any] = {
        "baseline": [v for v in base for _ in range(4)],
        "candidate": [v for v in cand for _ in range(4)],
    }
    prompts = [f"p{i}" for i in range(250) for _ in range(4)]
    clustered = compute_drift_report(outcomes(**repeated, cluster=prompts), n_bootstrap=3000)
    independent = compute_drift_report(outcomes(**repeated), n_bootstrap=3000)
    single = compute_drift_report(outcomes(base, cand), n_bootstrap=3000)

    def width(report: dict[str, Any]) -> float:
        low, high = report["overall"]["delta_ci"]
        return float(high - low)

    assert width(clustered) == pytest.approx(width(single), rel=0.1)
    assert width(independent) == pytest.approx(width(single) / 2, rel=0.15)


def test_bootstrap_rejects_empty_and_mismatched_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        paired_cluster_bootstrap(np.array([]), np.array([], dtype=int), n_bootstrap=10, rng=rng)
    with pytest.raises(ValueError):
        paired_cluster_bootstrap(np.zeros(3), np.zeros(2, dtype=int), n_bootstrap=10, rng=rng)


def test_gold_ties_do_not_enter_the_bootstrap() -> None:
    # Gold-tie pairs flip wildly but carry no accuracy; the interval must ignore them.
    n = 100
    data = outcomes(
        ["A"] * n + ["A"] * 50,
        ["A"] * n + ["B"] * 50,
        gold=["A"] * n + ["tie"] * 50,
    )
    overall = compute_drift_report(data, n_bootstrap=300)["overall"]
    assert overall["delta_ci"] == [0.0, 0.0]
    assert overall["flips"] == 50
