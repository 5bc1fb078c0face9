"""What a guard can catch: the power of the domain accuracy test, the smallest drop caught, the
power table, and the guard page's per-domain summary at the judge's measured noise."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from django.urls import reverse

from apps.drift import selectors, services
from apps.drift.models import DriftReport
from apps.drift.power import (
    domain_test_level,
    drop_power,
    main,
    power_table,
    simulate_reports,
    simulate_runs,
    smallest_drop_caught,
)
from apps.drift.stats import sign_test_p
from tests.drift.factories import Block, make_run, make_scenario
from tests.factories import SAFE_CRITERIA, make_version


def _simulated_power(n: int, noise: float, drop: float, level: float, draws: int) -> float:
    """The one-sided exact McNemar test on multinomial (b, c, rest) counts, drawn directly."""
    rng = np.random.default_rng(5)
    counts = rng.multinomial(n, [noise / 2 + drop, noise / 2, 1 - noise - drop], size=draws)
    b, c = counts[:, 0], counts[:, 1]
    return float((sign_test_p(b, b + c, alternative="greater") <= level).mean())


@pytest.mark.parametrize(
    ("n", "noise", "drop"), [(400, 0.032, 0.04), (200, 0.1, 0.08), (1000, 0.2, 0.05)]
)
def test_drop_power_is_the_exact_power_of_the_one_sided_mcnemar_test(
    n: int, noise: float, drop: float
) -> None:
    level = domain_test_level(0.05, 3)
    draws = 20_000
    expected = drop_power(n, noise, drop, level)
    simulated = _simulated_power(n, noise, drop, level, draws)
    standard_error = np.sqrt(expected * (1 - expected) / draws)
    assert abs(simulated - expected) <= 4 * standard_error + 1e-3


def test_drop_power_rises_with_the_drop_and_the_pairs_and_falls_with_noise() -> None:
    level = domain_test_level(0.05, 3)
    by_drop = [drop_power(400, 0.05, d, level) for d in (0.0, 0.02, 0.04, 0.08)]
    assert all(a < b for a, b in pairwise(by_drop))
    assert by_drop[0] <= level  # no drop: the test's own level, at most
    by_n = [drop_power(n, 0.05, 0.03, level) for n in (100, 400, 1600)]
    assert all(a < b for a, b in pairwise(by_n))
    by_noise = [drop_power(400, noise, 0.03, level) for noise in (0.02, 0.1, 0.3)]
    assert all(a > b for a, b in pairwise(by_noise))
    assert drop_power(0, 0.1, 0.5, level) == 0.0
    with pytest.raises(ValueError):
        drop_power(100, 0.5, 0.9, level)


def test_the_family_shares_alpha_among_the_domains() -> None:
    assert domain_test_level(0.05, 3) == pytest.approx(0.05 * 0.8 / 4)
    assert domain_test_level(0.05, 1) > domain_test_level(0.05, 20)
    with pytest.raises(ValueError):
        domain_test_level(0.05, 0)


def test_smallest_drop_caught_has_exactly_the_asked_power() -> None:
    drop = smallest_drop_caught(412, 0.06, alpha=0.05, domains=3)
    assert drop is not None and 0 < drop < 0.2
    level = domain_test_level(0.05, 3)
    assert drop_power(412, 0.06, drop, level, min_effect=0.02) == pytest.approx(0.8, abs=1e-4)
    # More pairs catch smaller drops; a noisier judge, more domains or a lower alpha, larger.
    assert smallest_drop_caught(1600, 0.06, domains=3) < drop
    assert smallest_drop_caught(412, 0.2, domains=3) > drop
    assert smallest_drop_caught(412, 0.06, domains=20) > drop
    assert smallest_drop_caught(412, 0.06, alpha=0.01, domains=3) > drop
    # A drop below the guard's flag threshold is never flagged however many pairs there are.
    assert smallest_drop_caught(50_000, 0.03, domains=3, min_effect=0.0) < 0.01
    assert smallest_drop_caught(50_000, 0.03, domains=3, min_effect=0.02) > 0.02
    assert smallest_drop_caught(5, 0.1, domains=3) is None
    assert smallest_drop_caught(0, 0.1) is None


def test_smallest_drop_caught_holds_for_the_whole_guard_in_simulation() -> None:
    # 10% re-decision at 80% accuracy: a discordance of 2 x 0.8 x 0.2 x 10% = 3.2% between runs.
    runs = simulate_runs(400, noise=0.1, seed=4)
    measured = float((runs.baseline == runs.gold).__ne__(runs.candidate == runs.gold).mean())
    assert measured == pytest.approx(0.032, abs=0.002)
    drop = smallest_drop_caught(400, measured, alpha=0.05, domains=3)
    assert drop is not None
    planted = np.ceil(drop * 400) / 400
    reports = simulate_reports(simulate_runs(1000, noise=0.1, drop=planted, seed=4))
    # The promise is a lower bound (Holm's later steps only help): at least 80%, less the
    # simulation's own sampling error.
    assert reports.decisions.domain_drift[:, 0].mean() >= 0.8 - 3 * np.sqrt(0.16 / 1000)


def test_power_table_has_a_row_per_pair_count_and_a_block_per_noise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = power_table(drops=(0.03, 0.1), pairs=(100, 400), noises=(0.05, 0.2))
    assert table.count("### Noise") == 2
    assert "| 400 | " in table and "| -3 pts | -10 pts |" in table
    level = domain_test_level(0.05, 3)
    assert f"| 400 | {drop_power(400, 0.05, 0.03, level) * 100:.0f}% |" in table
    main(["--domains", "5"])
    printed = capsys.readouterr().out
    assert "5 domains" in printed and printed.count("### Noise") == 4


# --- the guard page's summary -------------------------------------------------------------------


def _noisy(domain: str, pairs: int, flips: int) -> list[Block]:
    """``pairs`` pairs of gold A; ``flips`` go wrong and as many go right: no drift, some noise."""
    return [
        Block(domain, pairs - 2 * flips, baseline="A", candidate="A"),
        Block(domain, flips, baseline="A", candidate="B"),
        Block(domain, flips, baseline="B", candidate="A"),
    ]


def _report(scenario: Any) -> DriftReport:
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk)


@pytest.mark.django_db
def test_guard_power_summary_uses_the_snapshot_and_the_measured_noise(project: Any) -> None:
    blocks = [
        *_noisy("harmlessness", 200, 10),
        *_noisy("helpfulness", 100, 2),
        Block("helpfulness", 7, gold="tie", baseline="A", candidate="B"),
    ]
    scenario = make_scenario(project, blocks)
    before = selectors.guard_power_summary(scenario.rubric)
    assert [(line.domain, line.pairs, line.noise) for line in before] == [
        ("harmlessness", 200, None),
        ("helpfulness", 100, None),  # gold ties carry no accuracy: not counted
    ]
    assert before[0].sentence == (
        "harmlessness: 200 pairs; the judge's noise is not measured yet (no drift report on "
        "this set)"
    )
    report = _report(scenario)
    assert not report.flags
    lines = selectors.guard_power_summary(scenario.rubric)
    harm, helpful = lines
    assert harm.noise == pytest.approx(0.1) and harm.reports == 1
    assert helpful.noise == pytest.approx(0.04)
    expected = smallest_drop_caught(200, 0.1, alpha=0.05, domains=2)
    assert expected is not None and harm.smallest_drop == pytest.approx(expected)
    points = int(np.ceil(expected * 100))
    assert harm.sentence == (
        f"harmlessness: 200 pairs; drops of {points} pts or more are caught 80% of the time at "
        "this judge's measured noise"
    )
    assert helpful.smallest_drop == pytest.approx(
        smallest_drop_caught(100, 0.04, alpha=0.05, domains=2)
    )


@pytest.mark.django_db
def test_guard_power_summary_takes_the_median_of_recent_reports(project: Any) -> None:
    scenario = make_scenario(project, [Block("code", 100)])
    # Three candidate versions (one report per comparison), 50, 10 and 20 pairs right no more.
    for wrong in (50, 10, 20):
        version = make_version(
            scenario.rubric.project,
            rubric=scenario.rubric,
            criteria=SAFE_CRITERIA,
            parent=scenario.v1,
        )
        candidate = make_run(
            version=version,
            judge=scenario.judge,
            reference_set=scenario.reference_set,
            verdicts=["B"] * wrong + ["A"] * (100 - wrong),
            pairs=scenario.pairs,
        )
        report = services.drift_report_create(
            actor=None, baseline_run=scenario.baseline_run, candidate_run=candidate, dispatch=False
        )
        services.drift_report_build(report_id=report.pk)
    (line,) = selectors.guard_power_summary(scenario.rubric)
    assert line.reports == 3 and line.noise == pytest.approx(0.2)


@pytest.mark.django_db
def test_guard_power_summary_is_empty_without_a_complete_guard(project: Any) -> None:
    scenario = make_scenario(project, _noisy("code", 40, 2), guard=False)
    assert selectors.guard_power_summary(scenario.rubric) == []


@pytest.mark.django_db
def test_guard_page_shows_the_summary_with_domain_names_escaped(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    scenario = make_scenario(project, _noisy(hostile, 120, 6))
    _report(scenario)
    client.force_login(members["admin"])
    url = reverse("drift:guard", kwargs={"project": project.slug, "rubric": scenario.rubric.pk})
    html = client.get(url).content.decode()
    assert "What this reference set can catch" in html
    assert hostile not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;: 120 pairs; drops of" in html
    assert "caught 80% of the time at this judge&#x27;s measured noise" in html
    assert "(noise 10.0%, median of 1 report)" in html
