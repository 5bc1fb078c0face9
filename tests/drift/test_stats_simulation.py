"""The drift guard's false alarms and power, simulated under the re-decision noise model.

A null edit: the candidate re-decides a share of the pairs at random (10% or 30%), nothing
systematic, 3 domains x 400 pairs. At most alpha of such reports may open an alert, within a
binomial 99% bound. A masked drop planted on one domain (the others make up for it, the overall
accuracy does not move) must be flagged in at least 90% of reports at 5 points and 10% noise, and
in at least 99% at 9 points and 30% noise.

The reports are computed over arrays (``apps.drift.power.simulate_reports``); a sample of them,
every alert of the null scenarios and every miss of the power scenarios among the first rows, is
also built one by one through ``compute_drift_report`` and must agree flag for flag.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom

from apps.drift.flags import DriftThresholds
from apps.drift.power import SimulatedReports, SimulatedRuns, simulate_reports, simulate_runs
from apps.drift.stats import compute_drift_report

REPORTS = 2000
ALPHA = DriftThresholds().alpha
CHECKED = 200  # rows checked one by one among the first ones of each scenario


@cache
def scenario(noise: float, drop: float) -> tuple[SimulatedRuns, SimulatedReports]:
    runs = simulate_runs(REPORTS, noise=noise, drop=drop, seed=11)
    return runs, simulate_reports(runs)


@pytest.mark.parametrize("noise", [0.1, 0.3])
def test_a_null_edit_opens_an_alert_in_at_most_alpha_of_reports(noise: float) -> None:
    _, reports = scenario(noise, 0.0)
    alerts = int(reports.decisions.opens_alert.sum())
    # The largest count a true rate of alpha gives with 99% probability.
    bound = int(binom.ppf(0.99, REPORTS, ALPHA))
    assert alerts <= bound, f"{alerts} of {REPORTS} null reports opened an alert (bound {bound})"
    # Nothing planted: no domain moves on average, so false alarms are not a one-domain artefact.
    assert np.abs(reports.delta.mean(axis=0)).max() < 0.002


@pytest.mark.parametrize(("noise", "drop", "at_least"), [(0.1, 0.05, 0.90), (0.3, 0.09, 0.99)])
def test_a_masked_drop_on_one_domain_is_flagged(noise: float, drop: float, at_least: float) -> None:
    _, reports = scenario(noise, drop)
    # The planted drop is masked: the first domain falls by `drop`, the overall does not move.
    assert reports.delta[:, 1].mean() == pytest.approx(-drop, abs=0.002)
    assert abs(reports.delta[:, 0].mean()) < 0.002
    flagged = reports.decisions.domain_drift[:, 0]
    assert flagged.mean() >= at_least, f"flagged in {flagged.sum()} of {REPORTS} reports"
    # The domains that make up for the drop are never flagged: they rose.
    assert not reports.decisions.domain_drift[:, 1:].any()


def _flag_set(report: dict[str, Any]) -> set[tuple[str, str | None, str | None]]:
    return {(f["kind"], f["domain"], f["direction"]) for f in report["flags"]}


def _batch_flag_set(reports: SimulatedReports, row: int) -> set[tuple[str, str | None, str | None]]:
    decisions = reports.decisions
    found: set[tuple[str, str | None, str | None]] = set()
    for index in np.flatnonzero(decisions.domain_drift[row]):
        found.add(("domain_drift", f"domain-{index}", None))
    for index in np.flatnonzero(decisions.masked_drift[row]):
        found.add(("masked_drift", f"domain-{index}", None))
    if decisions.aggregate_drop[row]:
        found.add(("aggregate_drop", None, None))
    scopes = [None] + [f"domain-{i}" for i in range(reports.delta.shape[1] - 1)]
    keys = ("toward_longer", "toward_refusal", "toward_position_a")
    for index in np.flatnonzero(decisions.directional_shift[row]):
        key, scope = divmod(int(index), len(scopes))
        found.add(("directional_shift", scopes[scope], keys[key]))
    return found


@pytest.mark.parametrize(("noise", "drop"), [(0.1, 0.0), (0.3, 0.0), (0.1, 0.05), (0.3, 0.09)])
def test_array_reports_agree_with_compute_drift_report(noise: float, drop: float) -> None:
    runs, reports = scenario(noise, drop)
    opened = reports.decisions.opens_alert[:CHECKED]
    flagged = reports.decisions.domain_drift[:CHECKED, 0]
    unusual = np.flatnonzero(opened if drop == 0 else ~flagged)
    rows = sorted({*range(8), *unusual.tolist()})
    if drop == 0:
        assert unusual.size > 0, "the sample should hold false alarms to compare"
    for row in rows:
        report = compute_drift_report(runs.outcomes(row), n_bootstrap=1)
        assert _flag_set(report) == _batch_flag_set(reports, row), f"row {row}"
        family = report["family"]["tests"]
        accuracy = [t["p_adjusted"] for t in family if t["test"] == "accuracy"]
        assert accuracy == pytest.approx(list(reports.p_adjusted[row, : len(accuracy)]))
        assert report["overall"]["delta"] == pytest.approx(reports.delta[row, 0])
