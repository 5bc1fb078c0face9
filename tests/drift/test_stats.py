"""Drift statistics: accuracy, McNemar, multiple testing, flips, directions, power, edge cases."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from apps.drift.flags import ACCURACY_SHARE, DriftThresholds
from apps.drift.stats import (
    PairedOutcomes,
    compute_drift_report,
    connor_sample_size,
    direction_test,
    family_weights,
    holm_adjust,
    mcnemar_exact_p,
    minimum_detectable_drop,
    sign_test_p,
    weighted_holm,
    wilson_interval,
)


def row(
    domain: str = "d",
    gold: str = "A",
    baseline: str = "A",
    candidate: str = "A",
    *,
    length_a: float = 10,
    length_b: float = 10,
    refuses_a: bool = False,
    refuses_b: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """One pair as a record; equal lengths and no refusals unless asked."""
    return {
        "domain": domain,
        "gold": gold,
        "baseline": baseline,
        "candidate": candidate,
        "length_a": length_a,
        "length_b": length_b,
        "refuses_a": refuses_a,
        "refuses_b": refuses_b,
        **extra,
    }


def report_of(rows: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("n_bootstrap", 300)
    return compute_drift_report(PairedOutcomes.from_records(rows), **kwargs)


# --- accuracy ----------------------------------------------------------------------------------


def test_accuracy_scores_ties_half_and_invalid_zero_and_skips_gold_ties() -> None:
    rows = [
        row(gold="A", baseline="A", candidate="tie"),  # base 1, cand 0.5
        row(gold="B", baseline="tie", candidate="B"),  # base 0.5, cand 1
        row(gold="B", baseline="A", candidate="invalid"),  # base 0, cand 0
        row(gold="A", baseline="A", candidate="A"),  # base 1, cand 1
        row(gold="tie", baseline="A", candidate="B"),  # excluded from accuracy
    ]
    overall = report_of(rows)["overall"]
    assert overall["n"] == 4
    assert overall["n_pairs"] == 5
    assert overall["n_gold_tie"] == 1
    assert overall["baseline_accuracy"] == pytest.approx(2.5 / 4)
    assert overall["candidate_accuracy"] == pytest.approx(2.5 / 4)
    assert overall["delta"] == pytest.approx(0.0)
    assert overall["candidate_invalid_rate"] == pytest.approx(1 / 5)
    assert overall["baseline_invalid_rate"] == 0
    assert overall["baseline_tie_rate"] == pytest.approx(1 / 5)
    assert overall["candidate_tie_rate"] == pytest.approx(1 / 5)


def test_wilson_interval_is_statsmodels_at_the_mean_score() -> None:
    rows = [row(gold="A", baseline=v, candidate="A") for v in ["A", "A", "tie", "B", "A"]]
    overall = report_of(rows)["overall"]
    low, high = proportion_confint(3.5, 5, alpha=0.05, method="wilson")
    assert overall["baseline_ci"] == pytest.approx([low, high])
    low, high = proportion_confint(5, 5, alpha=0.05, method="wilson")
    assert overall["candidate_ci"] == pytest.approx([low, min(high, 1.0)])
    assert wilson_interval(0, 0) is None


def test_wilson_interval_stays_within_zero_and_one() -> None:
    low, high = wilson_interval(0, 7)  # type: ignore[misc]
    assert low == 0.0 and 0 < high < 1
    low, high = wilson_interval(7, 7)  # type: ignore[misc]
    assert 0 < low < 1 and high == 1.0


# --- McNemar and multiple testing --------------------------------------------------------------


def test_mcnemar_counts_right_as_exact_match_and_matches_statsmodels() -> None:
    rows = (
        [row(baseline="A", candidate="B")] * 7  # right -> wrong: b
        + [row(baseline="A", candidate="tie")] * 2  # right -> tie is not right: b
        + [row(baseline="tie", candidate="A")] * 1  # tie -> right: c
        + [row(baseline="B", candidate="A")] * 1  # wrong -> right: c
        + [row(baseline="A", candidate="A")] * 5  # both right
        + [row(baseline="B", candidate="tie")] * 3  # neither right
    )
    overall = report_of(rows)["overall"]
    assert overall["discordant"] == {"baseline_only_right": 9, "candidate_only_right": 2}
    expected = mcnemar([[5, 9], [2, 3]], exact=True).pvalue
    assert overall["mcnemar_p"] == pytest.approx(expected)
    assert overall["discordance_rate"] == pytest.approx(11 / 19)


def test_no_discordant_pairs_gives_p_one() -> None:
    rows = [row(baseline="A", candidate="A"), row(gold="B", baseline="A", candidate="A")]
    overall = report_of(rows)["overall"]
    assert overall["mcnemar_p"] == 1.0
    assert mcnemar_exact_p(0, 0) == 1.0


def test_bh_across_domains_matches_multipletests_and_accuracy_tests_are_one_sided() -> None:
    rows: list[dict[str, Any]] = []
    # three domains with different amounts of one-way discordance
    for domain, drops in (("alpha", 9), ("beta", 5), ("gamma", 2)):
        rows += [row(domain, baseline="A", candidate="B")] * drops
        rows += [row(domain, baseline="A", candidate="A")] * 10
    rows += [row("gamma", baseline="B", candidate="A")] * 1
    by_domain = report_of(rows)["by_domain"]
    names = sorted(by_domain)
    counts = ((9, 0), (5, 0), (2, 1))
    raw = [by_domain[name]["mcnemar_p"] for name in names]
    assert raw == pytest.approx([mcnemar([[10, b], [c, 0]], exact=True).pvalue for b, c in counts])
    bh = multipletests(raw, method="fdr_bh")[1]
    assert [by_domain[name]["q_bh"] for name in names] == pytest.approx(list(bh))
    # The test behind an alert asks only whether accuracy dropped: b or more of b + c.
    one_sided = [binomtest(b, b + c, 0.5, alternative="greater").pvalue for b, c in counts]
    assert [by_domain[name]["p_drop"] for name in names] == pytest.approx(one_sided)
    assert all(by_domain[name]["p_drop"] < p for name, p in zip(names, raw, strict=True))


@pytest.mark.parametrize("size", [1, 2, 7, 40])
def test_holm_adjust_matches_multipletests(size: int) -> None:
    rng = np.random.default_rng(size)
    p = rng.uniform(0, 0.3, size=size) ** 2
    p[: size // 3] = p[0]  # ties
    expected = multipletests(p, method="holm")[1]
    assert holm_adjust(p) == pytest.approx(expected)


def test_overall_accuracy_test_is_in_the_family() -> None:
    overall = report_of([row(baseline="A", candidate="B")] * 8)["overall"]
    assert overall["q_bh"] is None
    assert overall["mcnemar_p"] == pytest.approx(binomtest(0, 8, 0.5).pvalue)
    assert overall["p_drop"] == pytest.approx(0.5**8)
    # One domain: the overall and the domain accuracy tests share 0.8 of alpha; with no direction
    # test (all flips are toward B, but there are only 8) they share all of it.
    assert overall["p_holm"] == pytest.approx(2 * 0.5**8)
    assert overall["survived"] is True


def test_sign_test_p_is_scipy_binomtest_and_statsmodels_mcnemar() -> None:
    for n in (0, 1, 2, 7, 20, 61):
        for k in range(n + 1):
            two = binomtest(k, n, 0.5).pvalue if n else 1.0
            greater = binomtest(k, n, 0.5, alternative="greater").pvalue if n else 1.0
            assert sign_test_p(k, n) == pytest.approx(two, rel=1e-9, abs=1e-15)
            assert sign_test_p(k, n, alternative="greater") == pytest.approx(
                greater, rel=1e-9, abs=1e-15
            )
            assert sign_test_p(k, n) == pytest.approx(mcnemar_exact_p(k, n - k), rel=1e-9)
    grid = sign_test_p(np.array([[3, 9], [0, 4]]), np.array([[10, 12], [0, 4]]))
    assert grid.shape == (2, 2) and grid[1, 0] == 1.0
    with pytest.raises(ValueError, match="alternative"):
        sign_test_p(1, 2, alternative="less")


def _weighted_holm_by_definition(p: list[float], w: list[float], alpha: float) -> set[int]:
    """Holm's weighted step-down procedure, one step at a time: the tests it rejects."""
    left = set(range(len(p)))
    rejected: set[int] = set()
    while left:
        best = min(left, key=lambda i: p[i] / w[i])
        if p[best] > alpha * w[best] / sum(w[i] for i in left):
            break
        rejected.add(best)
        left.remove(best)
    return rejected


def test_weighted_holm_with_equal_weights_is_holm_row_by_row() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.2, size=(6, 9)) ** 2
    adjusted = weighted_holm(p, np.ones(9))
    for row_p, row_adjusted in zip(p, adjusted, strict=True):
        assert row_adjusted == pytest.approx(multipletests(row_p, method="holm")[1])


def test_weighted_holm_rejects_what_the_step_down_procedure_rejects() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        size = int(rng.integers(1, 9))
        p = (rng.uniform(0, 0.3, size=size) ** 2).tolist()
        w = rng.uniform(0.05, 1, size=size).tolist()
        adjusted = weighted_holm(p, w)
        for alpha in (0.01, 0.05, 0.1):
            rejected = {i for i, value in enumerate(adjusted) if value <= alpha}
            assert rejected == _weighted_holm_by_definition(p, w, alpha)


def test_weighted_holm_leaves_tests_not_performed_out() -> None:
    adjusted = weighted_holm([0.01, np.nan, 0.02], [1, 5, 1])
    assert np.isnan(adjusted[1])
    assert adjusted[[0, 2]] == pytest.approx(multipletests([0.01, 0.02], method="holm")[1])
    assert np.isnan(weighted_holm([np.nan, np.nan], [1, 1])).all()
    with pytest.raises(ValueError, match="positive weight"):
        weighted_holm([0.01, 0.02], [1, 0])


def test_family_weights_share_alpha_between_accuracy_and_direction_tests() -> None:
    is_accuracy = np.array([True, True, False, False, False, False])
    weights = family_weights(is_accuracy)
    assert weights == pytest.approx([0.4, 0.4, 0.05, 0.05, 0.05, 0.05])
    # A direction test not performed gives its weight to the other direction tests...
    performed = np.array([True, True, True, False, False, False])
    assert family_weights(is_accuracy, performed) == pytest.approx([0.4, 0.4, 0.2, 0, 0, 0])
    # ...and with none performed, the accuracy tests have all of alpha.
    performed = np.array([True, True, False, False, False, False])
    assert family_weights(is_accuracy, performed) == pytest.approx([0.5, 0.5, 0, 0, 0, 0])


def test_report_records_every_test_of_the_family() -> None:
    rows = [row("a", baseline="A", candidate="B", length_a=50)] * 30
    rows += [row("a", baseline="A", candidate="A")] * 170
    rows += [row("b", baseline="B", candidate="A", gold="B")] * 3
    rows += [row("b", baseline="A", candidate="A")] * 197
    report = report_of(rows, thresholds=DriftThresholds())
    family = report["family"]
    tests = family["tests"]
    assert family["alpha"] == 0.05
    accuracy = [t for t in tests if t["test"] == "accuracy"]
    assert [t["domain"] for t in accuracy] == [None, "a", "b"]
    assert sum(t["weight"] for t in accuracy) == pytest.approx(ACCURACY_SHARE)
    assert sum(t["weight"] for t in tests) == pytest.approx(1.0)
    # Only "a" has 20 flips or more; its 30 flips all moved away from the longer response A and
    # toward B, and overall has 33 flips.
    directions = {(t["test"], t["domain"]) for t in tests if t["test"] != "accuracy"}
    assert directions == {
        ("toward_longer", None),
        ("toward_position_a", None),
        ("toward_longer", "a"),
        ("toward_position_a", "a"),
    }
    raw = np.array([t["p"] for t in tests])
    weights = np.array([t["weight"] for t in tests])
    assert [t["p_adjusted"] for t in tests] == pytest.approx(list(weighted_holm(raw, weights)))
    by_key = {(t["test"], t["domain"]): t for t in tests}
    harm = report["by_domain"]["a"]
    assert by_key[("accuracy", "a")]["p"] == harm["p_drop"]
    assert by_key[("accuracy", "a")]["p_adjusted"] == harm["p_holm"]
    assert harm["survived"] is True and report["by_domain"]["b"]["survived"] is False
    longer = harm["direction"]["toward_longer"]
    assert by_key[("toward_longer", "a")]["p_adjusted"] == longer["p_holm"]
    assert all(t["survived"] == (t["p_adjusted"] < 0.05) for t in tests)


# --- flips and directions ----------------------------------------------------------------------


def test_flip_rate_counts_all_pairs_and_flip_list_carries_verdicts() -> None:
    rows = [
        row("x", gold="A", baseline="A", candidate="B", pair_id=11),
        row("x", gold="B", baseline="B", candidate="B", pair_id=12),
        row("y", gold="tie", baseline="A", candidate="tie", pair_id=13),
        row("y", gold="A", baseline="A", candidate="invalid", pair_id=14),
    ]
    report = report_of(rows)
    assert report["overall"]["flips"] == 3
    assert report["overall"]["flip_rate"] == pytest.approx(3 / 4)
    assert report["by_domain"]["x"]["flip_rate"] == pytest.approx(1 / 2)
    assert report["by_domain"]["y"]["flip_rate"] == pytest.approx(1.0)
    assert report["flipped"] == [
        {"index": 0, "pair_id": 11, "domain": "x", "gold": "A", "baseline": "A", "candidate": "B"},
        {
            "index": 2,
            "pair_id": 13,
            "domain": "y",
            "gold": "tie",
            "baseline": "A",
            "candidate": "tie",
        },
        {
            "index": 3,
            "pair_id": 14,
            "domain": "y",
            "gold": "A",
            "baseline": "A",
            "candidate": "invalid",
        },
    ]


def test_direction_toward_longer_counts_half_steps_and_skips_equal_lengths() -> None:
    rows = [
        row(baseline="B", candidate="A", length_a=30, length_b=10),  # toward longer (A)
        row(baseline="tie", candidate="B", length_a=5, length_b=50),  # half step toward longer B
        row(baseline="A", candidate="tie", length_a=40, length_b=10),  # half step away from A
        row(baseline="A", candidate="B", length_a=10, length_b=10),  # equal: not counted
        row(baseline="A", candidate="invalid", length_a=1, length_b=9),  # invalid: not counted
        row(baseline="A", candidate="A", length_a=1, length_b=9),  # no flip
    ]
    test = report_of(rows)["overall"]["direction"]["toward_longer"]
    assert test["n"] == 3
    assert test["share"] == pytest.approx(2 / 3)
    assert test["p"] == pytest.approx(binomtest(2, 3, 0.5).pvalue)


def test_direction_toward_refusal_needs_exactly_one_refusing_response() -> None:
    rows = [
        row(baseline="A", candidate="B", refuses_b=True),  # toward refusal
        row(baseline="A", candidate="B", refuses_a=True),  # away from refusal
        row(baseline="tie", candidate="A", refuses_a=True),  # toward refusal
        row(baseline="A", candidate="B", refuses_a=True, refuses_b=True),  # both: not counted
        row(baseline="B", candidate="A"),  # neither: not counted
    ]
    test = report_of(rows)["overall"]["direction"]["toward_refusal"]
    assert (test["n"], test["share"]) == (3, pytest.approx(2 / 3))


def test_direction_toward_position_a_counts_every_valid_flip() -> None:
    rows = [row(baseline="B", candidate="A")] * 9 + [row(baseline="A", candidate="tie")] * 3
    rows += [row(baseline="invalid", candidate="A")]
    test = report_of(rows)["overall"]["direction"]["toward_position_a"]
    assert test["n"] == 12
    assert test["share"] == pytest.approx(9 / 12)
    assert test["p"] == pytest.approx(binomtest(9, 12, 0.5).pvalue)


def test_direction_test_without_counted_flips_reports_none() -> None:
    assert direction_test(np.zeros(5, dtype=np.int8)) == {"share": None, "n": 0, "p": None}


def test_direction_tests_with_too_few_flips_stay_out_of_the_family() -> None:
    rows = [row("a", baseline="B", candidate="A")] * 25
    rows += [row("b", baseline="B", candidate="A")] * 5 + [row("b", baseline="A", candidate="B")]
    report = report_of(rows)
    position = {
        name: report["by_domain"][name]["direction"]["toward_position_a"] for name in ("a", "b")
    }
    assert position["a"]["p"] == pytest.approx(binomtest(25, 25, 0.5).pvalue)
    assert position["a"]["p_holm"] is not None and position["a"]["survived"] is True
    # 6 flips < 20: computed and shown, never tested, so it costs the family nothing.
    assert position["b"]["p"] == pytest.approx(binomtest(5, 6, 0.5).pvalue)
    assert position["b"]["p_holm"] is None and position["b"]["survived"] is None
    tested = {(t["test"], t["domain"]) for t in report["family"]["tests"]}
    assert ("toward_position_a", "a") in tested and ("toward_position_a", "b") not in tested
    assert ("toward_position_a", None) in tested  # 31 flips overall


# --- power -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [30, 200, 1000, 25000])
@pytest.mark.parametrize("discordance", [0.05, 0.15, 0.4])
def test_mde_plugged_into_connor_gives_back_n(n: int, discordance: float) -> None:
    mde = minimum_detectable_drop(n, discordance)
    assert mde is not None and 0 < mde <= 1
    assert connor_sample_size(mde, max(discordance, mde)) == pytest.approx(n, rel=1e-8)


def test_mde_shrinks_as_n_grows_and_grows_with_discordance() -> None:
    by_n = [minimum_detectable_drop(n, 0.2) for n in (50, 100, 400, 1600)]
    assert all(a is not None and b is not None and a > b for a, b in pairwise(by_n))
    by_psi = [minimum_detectable_drop(500, psi) for psi in (0.05, 0.1, 0.3)]
    assert all(a is not None and b is not None and a < b for a, b in pairwise(by_psi))


def test_mde_without_discordance_assumes_one_way_discordance() -> None:
    mde = minimum_detectable_drop(1000, 0.0)
    assert mde is not None
    assert connor_sample_size(mde, mde) == pytest.approx(1000, rel=1e-8)
    # Every discordant pair going one way: McNemar is then a sign test on mde * n pairs, and at
    # this n that many one-way discordant pairs are themselves significant.
    assert binomtest(math.ceil(mde * 1000), math.ceil(mde * 1000), 0.5).pvalue < 0.05


def test_mde_is_none_when_no_drop_is_detectable() -> None:
    assert minimum_detectable_drop(3, 0.5) is None
    assert minimum_detectable_drop(0, 0.5) is None
    assert minimum_detectable_drop(4, 0.5) is not None


def test_connor_sample_size_rejects_impossible_inputs() -> None:
    with pytest.raises(ValueError):
        connor_sample_size(0.2, 0.1)
    with pytest.raises(ValueError):
        connor_sample_size(0.0, 0.1)


def test_report_mde_uses_the_scope_n_discordance_and_family_level() -> None:
    rows = [row(baseline="A", candidate="B")] * 3 + [row(baseline="A", candidate="A")] * 97
    overall = report_of(rows)["overall"]
    # One domain: two accuracy tests share 0.8 of alpha, so a lone drop's one-sided test runs
    # at 0.02, Connor's two-sided formula at 0.04.
    assert overall["mde"] == pytest.approx(minimum_detectable_drop(100, 0.03, alpha=0.04))
    assert overall["mde"] > minimum_detectable_drop(100, 0.03, alpha=0.05)


# --- consistency and noise floor ---------------------------------------------------------------


def test_position_consistency_and_noise_floor_from_order_inconsistency() -> None:
    rows = [
        row(baseline_consistent=c1, candidate_consistent=c2)
        for c1, c2 in [(True, True), (False, True), (True, False), (True, True)]
    ]
    overall = report_of(rows)["overall"]
    assert overall["baseline_position_consistency"] == pytest.approx(3 / 4)
    assert overall["candidate_position_consistency"] == pytest.approx(3 / 4)
    assert overall["noise_floor"] == pytest.approx(1 / 4)
    assert overall["noise_floor_source"] == "order_inconsistency"


def test_noise_floor_prefers_a_repeat_run() -> None:
    rows = [
        row(baseline="A", repeat_baseline="A", baseline_consistent=False),
        row(baseline="A", repeat_baseline="B", baseline_consistent=False),
        row(baseline="tie", repeat_baseline="tie", baseline_consistent=False),
        row(baseline="B", repeat_baseline="invalid", baseline_consistent=False),
        row(baseline="B", repeat_baseline="B", baseline_consistent=False),
    ]
    overall = report_of(rows)["overall"]
    assert overall["noise_floor"] == pytest.approx(2 / 5)
    assert overall["noise_floor_source"] == "repeat"


def test_without_optional_inputs_consistency_and_noise_are_none() -> None:
    overall = report_of([row()])["overall"]
    assert overall["baseline_position_consistency"] is None
    assert overall["noise_floor"] is None and overall["noise_floor_source"] is None


# --- edge cases --------------------------------------------------------------------------------


def test_empty_input_gives_an_empty_report() -> None:
    report = report_of([])
    assert report["overall"]["n"] == 0
    assert report["overall"]["delta"] is None and report["overall"]["mcnemar_p"] is None
    assert report["by_domain"] == {}
    assert report["flags"] == [] and report["severity"] is None and report["flipped"] == []
    json.dumps(report, allow_nan=False)


def test_domain_of_one_pair() -> None:
    rows = [row("big", baseline="A", candidate="A")] * 40 + [
        row("one", baseline="A", candidate="B")
    ]
    one = report_of(rows)["by_domain"]["one"]
    assert one["n"] == 1
    assert (one["baseline_accuracy"], one["candidate_accuracy"], one["delta"]) == (1.0, 0.0, -1.0)
    assert one["delta_ci"] == [-1.0, -1.0]
    assert one["mcnemar_p"] == 1.0
    assert one["mde"] is None
    json.dumps(one, allow_nan=False)


def test_all_tie_verdicts() -> None:
    rows = [row(gold=g, baseline="tie", candidate="tie") for g in "ABAB"]
    overall = report_of(rows)["overall"]
    assert overall["baseline_accuracy"] == overall["candidate_accuracy"] == 0.5
    assert overall["delta"] == 0.0 and overall["delta_ci"] == [0.0, 0.0]
    assert overall["mcnemar_p"] == 1.0 and overall["flips"] == 0
    assert overall["baseline_tie_rate"] == 1.0


def test_all_gold_ties_leave_accuracy_empty_but_count_flips() -> None:
    rows = [row(gold="tie", baseline="A", candidate="B")] * 3
    overall = report_of(rows)["overall"]
    assert (overall["n"], overall["n_gold_tie"], overall["flips"]) == (0, 3, 3)
    assert overall["baseline_accuracy"] is None and overall["delta_ci"] is None
    assert overall["mde"] is None and overall["mcnemar_p"] is None


def test_all_invalid_verdicts() -> None:
    rows = [row(gold=g, baseline="invalid", candidate="invalid") for g in "ABB"]
    report = report_of(rows)
    overall = report["overall"]
    assert overall["baseline_accuracy"] == overall["candidate_accuracy"] == 0.0
    assert overall["baseline_invalid_rate"] == overall["candidate_invalid_rate"] == 1.0
    assert overall["mcnemar_p"] == 1.0
    assert all(test["n"] == 0 for test in overall["direction"].values())
    assert report["flags"] == []


def test_single_domain_matches_overall() -> None:
    rows = [row("only", baseline="A", candidate="B")] * 6 + [row("only")] * 30
    report = report_of(rows)
    domain = report["by_domain"]["only"]
    overall = report["overall"]
    for key in ("n", "baseline_accuracy", "candidate_accuracy", "delta", "mcnemar_p", "mde"):
        assert domain[key] == overall[key]
    # Holm over one domain leaves its p as it is.
    assert domain["p_holm"] == pytest.approx(domain["mcnemar_p"])


def test_report_is_strict_json_with_python_scalars_only() -> None:
    rng = np.random.default_rng(3)
    verdicts = np.array(["A", "B", "tie", "invalid"])
    rows = [
        row(
            str(rng.choice(["x", "y", "z"])),
            gold=str(rng.choice(["A", "B", "tie"])),
            baseline=str(rng.choice(verdicts)),
            candidate=str(rng.choice(verdicts)),
            length_a=int(rng.integers(1, 100)),
            length_b=int(rng.integers(1, 100)),
            refuses_a=bool(rng.random() < 0.2),
            refuses_b=bool(rng.random() < 0.2),
            pair_id=np.int64(i),
        )
        for i in range(200)
    ]
    report = report_of(rows)
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report


def test_report_does_not_depend_on_input_order() -> None:
    rng = np.random.default_rng(5)
    rows = [
        row(
            str(rng.choice(["x", "y"])),
            gold=str(rng.choice(["A", "B"])),
            baseline=str(rng.choice(["A", "B", "tie"])),
            candidate=str(rng.choice(["A", "B", "tie"])),
            length_a=int(rng.integers(1, 9)),
            length_b=int(rng.integers(1, 9)),
            cluster=f"p{rng.integers(0, 60)}",
        )
        for _ in range(150)
    ]
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    first, second = report_of(rows), report_of(shuffled)
    assert first["overall"] == second["overall"]
    assert first["by_domain"] == second["by_domain"]


# --- input checks ------------------------------------------------------------------------------


def test_unknown_labels_and_ragged_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="baseline"):
        PairedOutcomes.from_records([row(baseline="C")])
    with pytest.raises(ValueError, match="gold"):
        PairedOutcomes.from_records([row(gold="invalid")])
    with pytest.raises(ValueError, match="finite"):
        PairedOutcomes.from_records([row(length_a=float("nan"))])
    with pytest.raises(ValueError, match="shape"):
        PairedOutcomes.from_lists(
            domain=["a", "b"],
            gold=["A"],
            baseline=["A", "A"],
            candidate=["A", "A"],
            length_a=[1, 1],
            length_b=[1, 1],
            refuses_a=[False, False],
            refuses_b=[False, False],
        )


def test_from_records_matches_from_lists() -> None:
    rows = [row("x", baseline="A", candidate="B", cluster="p1", pair_id=1), row("y", cluster="p1")]
    built = PairedOutcomes.from_lists(
        domain=["x", "y"],
        gold=["A", "A"],
        baseline=["A", "A"],
        candidate=["B", "A"],
        length_a=[10, 10],
        length_b=[10, 10],
        refuses_a=[False, False],
        refuses_b=[False, False],
        cluster=["p1", "p1"],
        pair_id=[1, 2],
    )
    recorded = PairedOutcomes.from_records(rows)
    assert recorded.pair_id is None  # only one record had an id
    for name in ("domain", "gold", "baseline", "candidate", "cluster", "baseline_code"):
        assert np.array_equal(getattr(recorded, name), getattr(built, name))
    assert len(recorded) == 2
