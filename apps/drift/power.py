"""What a drift guard can catch: power of the domain accuracy test and the re-decision noise model.

Two parts, both pure (no database):

- :func:`drop_power` and :func:`smallest_drop_caught`: the exact power of the guard's domain
  accuracy test (one-sided exact McNemar at the level the alert family gives a domain) against a
  drop of accuracy, given the domain's pair count and the judge's measured noise;
- :func:`simulate_runs` and :func:`simulate_reports`: the re-decision noise model the false-alarm
  and power figures of docs/drift-power.md are measured with (the simulation test of the suite
  runs it), and the guard's decisions on many simulated reports at once.

``python -m apps.drift.power`` prints the power table of docs/drift-power.md.

Noise, as the studio measures it, is the *discordance rate*: the share of scored pairs (gold A or
B) that one run judges right and the other does not. Two runs of the same rubric differ only by
the judge's noise, so their discordance rate is the noise any comparison carries; a report's
``discordance_rate`` measures it (inflated by any real drift, which only makes the figures here
more cautious).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.stats import binom

from apps.drift.flags import ACCURACY_SHARE, AlertDecisions, DriftThresholds, alert_decisions
from apps.drift.stats import (
    DEFAULT_POWER,
    PairedOutcomes,
    family_weights,
    sign_test_p,
    weighted_holm,
)
from apps.drift.stats.outcomes import POSITION

__all__ = [
    "DEFAULT_POWER",
    "domain_test_level",
    "drop_power",
    "power_table",
    "simulate_reports",
    "simulate_runs",
    "smallest_drop_caught",
]


def domain_test_level(alpha: float, domains: int) -> float:
    """The level at which one domain's accuracy test must reject for its drop to be flagged.

    The alert family gives its accuracy tests ``ACCURACY_SHARE`` of alpha, equally between the
    overall test and each domain's; Holm's first step tests each at its own weight. Later steps
    only raise the level, so this is the level of a drop that is the report's only finding: the
    power computed with it is a lower bound.
    """
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie strictly between 0 and 1")
    if domains < 1:
        raise ValueError("domains must be at least 1")
    return alpha * ACCURACY_SHARE / (domains + 1)


def drop_power(
    n: int, noise: float, drop: float, level: float, *, min_effect: float = 0.0
) -> float:
    """Probability that a domain of ``n`` scored pairs flags a drop of ``drop`` at ``level``.

    Model: with no drift, a pair is discordant (right in one run only) with probability ``noise``,
    either way alike; a drop of ``drop`` makes that share of pairs right in the baseline only. So
    ``b`` (baseline-only right) and ``c`` (candidate-only right) are the counts of a multinomial
    with probabilities ``noise/2 + drop`` and ``noise/2``. The domain is flagged when the
    one-sided exact McNemar p of ``b`` among ``b + c`` discordant pairs is at most ``level`` and
    the observed drop, ``(b - c) / n``, is at least ``min_effect`` (tie verdicts, which count
    half, are left out of that drop). The sum over every number of discordant pairs is exact
    (scipy's binomial), not a normal approximation.
    """
    if n <= 0:
        return 0.0
    if not 0 <= noise <= 1 or not 0 <= drop <= 1 - noise + 1e-12:
        raise ValueError("need 0 <= noise <= 1 and 0 <= drop <= 1 - noise")
    p_b, p_c = noise / 2 + drop, noise / 2
    discordance = min(p_b + p_c, 1.0)
    discordant = np.arange(n + 1)
    # Smallest b that rejects among d discordant pairs: P(X >= b) <= level for X ~ Bin(d, 1/2).
    critical = binom.isf(level, discordant, 0.5) + 1
    # ... and b - c >= min_effect * n, i.e. b >= (d + min_effect * n) / 2.
    critical = np.maximum(critical, np.ceil((discordant + min_effect * n) / 2 - 1e-9))
    share_b = p_b / discordance if discordance > 0 else 0.5
    reject = binom.sf(critical - 1, discordant, share_b)
    weights = binom.pmf(discordant, n, discordance)
    return float(np.clip(np.dot(weights, reject), 0.0, 1.0))


def smallest_drop_caught(
    n: int,
    noise: float,
    *,
    alpha: float = 0.05,
    domains: int = 1,
    min_effect: float = 0.02,
    power: float = DEFAULT_POWER,
) -> float | None:
    """The smallest accuracy drop (a proportion) the guard flags with ``power`` in such a domain.

    ``n``: the domain's scored pairs (gold A or B) in the reference set; ``noise``: the judge's
    measured discordance rate (see the module docstring); ``alpha`` and ``min_effect``: the
    guard's; ``domains``: how many domains the reference set has (the alert family shares alpha
    among them). Solved with scipy's ``brentq`` on :func:`drop_power`, which rises with the drop.
    Returns None when even the largest possible drop is caught less often than ``power``.
    """
    if not 0 < power < 1:
        raise ValueError("power must lie strictly between 0 and 1")
    if n <= 0:
        return None
    noise = min(max(noise, 0.0), 1.0)
    level = domain_test_level(alpha, domains)
    largest = 1 - noise

    def shortfall(drop: float) -> float:
        return drop_power(n, noise, drop, level, min_effect=min_effect) - power

    if shortfall(largest) < 0:
        return None
    if shortfall(0.0) >= 0:
        return 0.0
    return float(brentq(shortfall, 0.0, largest, xtol=1e-6))


# --- the re-decision noise model ----------------------------------------------------------------

_A, _B, _TIE = 0, 1, 2
_LABELS = np.array(["A", "B", "tie"])
# A verdict's place on the scale from "B better" to "A better" (no invalid verdicts here).
_POSITION = POSITION[: _TIE + 1]


@dataclass(frozen=True)
class SimulatedRuns:
    """Many (baseline, candidate) run pairs under the re-decision noise model, one row per report.

    Arrays of shape (reports, domains * pairs), domains in contiguous blocks of ``pairs``
    columns: ``gold`` (0 = A, 1 = B), ``baseline`` and ``candidate`` (0 = A, 1 = B, 2 = tie),
    response lengths and refusal flags.
    """

    domains: int
    pairs: int
    gold: NDArray[np.int8]
    baseline: NDArray[np.int8]
    candidate: NDArray[np.int8]
    length_a: NDArray[np.int64]
    length_b: NDArray[np.int64]
    refuses_a: NDArray[np.bool_]
    refuses_b: NDArray[np.bool_]

    @property
    def reports(self) -> int:
        return int(self.gold.shape[0])

    def outcomes(self, row: int) -> PairedOutcomes:
        """One report's pairs as the :class:`PairedOutcomes` that ``compute_drift_report`` takes."""
        domain = np.repeat(np.arange(self.domains), self.pairs)
        return PairedOutcomes.from_lists(
            domain=np.char.add("domain-", domain.astype(str)),
            gold=_LABELS[self.gold[row]],
            baseline=_LABELS[self.baseline[row]],
            candidate=_LABELS[self.candidate[row]],
            length_a=self.length_a[row],
            length_b=self.length_b[row],
            refuses_a=self.refuses_a[row],
            refuses_b=self.refuses_b[row],
        )


def simulate_runs(
    reports: int,
    *,
    noise: float,
    seed: int = 0,
    domains: int = 3,
    pairs: int = 400,
    accuracy: float = 0.8,
    tie: float = 0.05,
    refusal: float = 0.1,
    drop: float = 0.0,
) -> SimulatedRuns:
    """``reports`` independent comparisons under the re-decision noise model, all drawn at once.

    Each pair's gold label is A or B (a fair coin); the judge is right with ``accuracy``, says
    ``tie`` with ``tie`` and is wrong otherwise. The candidate keeps the baseline's verdict except
    on a share ``noise`` of the pairs, which it re-decides: a fresh, independent verdict from the
    same judge. Nothing is systematic, so the two runs are exchangeable: a null edit. Lengths
    (20-600) and refusals (``refusal`` each) are independent of everything.

    ``drop`` plants a masked drop: on the first domain, ``drop * pairs`` pairs the candidate
    judged right become wrong; the other domains win as many pairs back between them (wrong to
    right), so the overall accuracy does not move. The same ``seed`` gives the same runs.
    """
    if not 0 <= noise <= 1 or not 0 <= drop <= 1:
        raise ValueError("noise and drop must lie between 0 and 1")
    if reports < 1 or domains < 1 or pairs < 1:
        raise ValueError("reports, domains and pairs must be at least 1")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20_260_901]))
    shape = (reports, domains * pairs)
    gold = (rng.random(shape) < 0.5).astype(np.int8)
    wrong = (1 - gold).astype(np.int8)

    def verdicts() -> NDArray[np.int8]:
        draw = rng.random(shape)
        return np.where(draw < accuracy, gold, np.where(draw < accuracy + tie, _TIE, wrong)).astype(
            np.int8
        )

    baseline = verdicts()
    candidate = np.where(rng.random(shape) < noise, verdicts(), baseline).astype(np.int8)

    moved = round(drop * pairs)
    if moved and domains > 1:
        block = slice(0, pairs)
        _plant(rng, candidate, block, candidate[:, block] == gold[:, block], wrong, moved)
        gains = np.full(domains - 1, moved // (domains - 1))
        gains[: moved % (domains - 1)] += 1
        for other, gain in enumerate(gains, start=1):
            block = slice(other * pairs, (other + 1) * pairs)
            _plant(rng, candidate, block, candidate[:, block] == wrong[:, block], gold, int(gain))

    return SimulatedRuns(
        domains=domains,
        pairs=pairs,
        gold=gold,
        baseline=baseline,
        candidate=candidate,
        length_a=rng.integers(20, 601, size=shape),
        length_b=rng.integers(20, 601, size=shape),
        refuses_a=rng.random(shape) < refusal,
        refuses_b=rng.random(shape) < refusal,
    )


def _plant(
    rng: np.random.Generator,
    candidate: NDArray[np.int8],
    block: slice,
    eligible: NDArray[np.bool_],
    target: NDArray[np.int8],
    count: int,
) -> None:
    """In each row, set ``count`` eligible pairs of ``block`` (chosen at random) to ``target``."""
    if count == 0:
        return
    if (eligible.sum(axis=1) < count).any():
        raise ValueError("not enough pairs to plant the drop; lower it or add pairs")
    keys = np.where(eligible, rng.random(eligible.shape), 2.0)
    chosen = np.argsort(keys, axis=1)[:, :count]
    part = candidate[:, block]
    np.put_along_axis(part, chosen, np.take_along_axis(target[:, block], chosen, axis=1), axis=1)
    candidate[:, block] = part


@dataclass(frozen=True)
class SimulatedReports:
    """What the drift guard concludes on each simulated report (:func:`simulate_reports`).

    ``delta``: (reports, 1 + domains) accuracy deltas, overall first; ``p_adjusted``: (reports,
    tests) adjusted p-values of the alert family, accuracy tests (overall, then each domain)
    first, then the direction tests; ``decisions``: the flags.
    """

    delta: NDArray[np.float64]
    p_adjusted: NDArray[np.float64]
    decisions: AlertDecisions


def simulate_reports(
    runs: SimulatedRuns, thresholds: DriftThresholds | None = None
) -> SimulatedReports:
    """The guard's statistics and flags for every simulated report, computed over arrays.

    The same tests as ``compute_drift_report`` (one-sided exact McNemar of a drop, exact sign
    tests of the flip directions) and the same adjustment, through the same functions
    (``sign_test_p``, ``family_weights``, ``weighted_holm``), then the flag rules in array form
    (``flags.alert_decisions``). Only the counting of discordant pairs and flips is repeated here
    over a (reports x pairs) matrix, since building each report's dict would take a hundred
    times longer. The simulation test checks both agree report by report.
    """
    thresholds = thresholds or DriftThresholds()
    reports, domains, pairs = runs.reports, runs.domains, runs.pairs

    def per_scope(values: NDArray[Any]) -> NDArray[np.float64]:
        by_domain = values.reshape(reports, domains, pairs).sum(axis=-1, dtype=np.float64)
        total = by_domain.sum(axis=1, keepdims=True)
        return np.concatenate([total, by_domain], axis=1)

    def score(verdict: NDArray[np.int8]) -> NDArray[np.float64]:
        return np.where(verdict == runs.gold, 1.0, np.where(verdict == _TIE, 0.5, 0.0))

    right_b, right_c = runs.baseline == runs.gold, runs.candidate == runs.gold
    b, c = per_scope(right_b & ~right_c), per_scope(right_c & ~right_b)
    n = per_scope(np.ones(runs.gold.shape, dtype=bool))
    delta = per_scope(score(runs.candidate) - score(runs.baseline)) / n
    p_accuracy = sign_test_p(b, b + c, alternative="greater")

    step = np.sign(_POSITION[runs.candidate] - _POSITION[runs.baseline])
    favours = (
        np.sign(runs.length_a - runs.length_b),
        runs.refuses_a.astype(np.int8) - runs.refuses_b.astype(np.int8),
        np.ones(runs.gold.shape, dtype=np.int8),
    )
    p_direction = []
    for favour in favours:
        moved = step * favour
        counted = per_scope(moved != 0)
        p = sign_test_p(per_scope(moved > 0), counted)
        p_direction.append(np.where(counted >= thresholds.min_flips_for_direction, p, np.nan))

    p_all = np.concatenate([p_accuracy, *p_direction], axis=1)
    is_accuracy = np.arange(p_all.shape[1]) < domains + 1
    adjusted = weighted_holm(p_all, family_weights(is_accuracy, ~np.isnan(p_all)))
    decisions = alert_decisions(
        overall_delta=delta[:, 0],
        overall_p=adjusted[:, 0],
        domain_delta=delta[:, 1:],
        domain_p=adjusted[:, 1 : domains + 1],
        direction_p=adjusted[:, domains + 1 :],
        thresholds=thresholds,
    )
    return SimulatedReports(delta=delta, p_adjusted=adjusted, decisions=decisions)


# --- the table of docs/drift-power.md -----------------------------------------------------------

TABLE_DROPS = (0.02, 0.03, 0.05, 0.07, 0.10)
TABLE_PAIRS = (100, 200, 400, 800, 1600)
TABLE_NOISE = (0.03, 0.05, 0.10, 0.20)


def power_table(
    *,
    drops: Sequence[float] = TABLE_DROPS,
    pairs: Sequence[int] = TABLE_PAIRS,
    noises: Sequence[float] = TABLE_NOISE,
    alpha: float = 0.05,
    domains: int = 3,
    min_effect: float = 0.02,
    power: float = DEFAULT_POWER,
) -> str:
    """The power table as Markdown: one block per noise level, pairs per domain x drop."""
    level = domain_test_level(alpha, domains)
    lines = [
        f"alpha {alpha}, {domains} domains, flag threshold {min_effect * 100:g} pts: a domain's "
        f"accuracy test runs at {level:.4f} (alpha x {ACCURACY_SHARE} / {domains + 1}).",
        "",
    ]
    for noise in noises:
        lines += [
            f"### Noise {noise * 100:g}% (discordance rate between two runs of one rubric)",
            "",
            "| pairs per domain | "
            + " | ".join(f"-{d * 100:g} pts" for d in drops)
            + f" | smallest drop caught {power * 100:g}% of the time |",
            "|---:|" + "---:|" * (len(drops) + 1),
        ]
        for n in pairs:
            cells = [
                f"{drop_power(n, noise, d, level, min_effect=min_effect) * 100:.0f}%" for d in drops
            ]
            smallest = smallest_drop_caught(
                n, noise, alpha=alpha, domains=domains, min_effect=min_effect, power=power
            )
            caught = "none" if smallest is None else f"{math.ceil(smallest * 1000) / 10:.1f} pts"
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {caught} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the power table (``python -m apps.drift.power``)."""
    parser = argparse.ArgumentParser(description="Print the drift guard's power table.")
    parser.add_argument("--alpha", type=float, default=DriftThresholds().alpha)
    parser.add_argument("--domains", type=int, default=3)
    parser.add_argument("--min-effect", type=float, default=DriftThresholds().min_effect)
    parser.add_argument("--power", type=float, default=DEFAULT_POWER)
    args = parser.parse_args(argv)
    print(
        power_table(
            alpha=args.alpha, domains=args.domains, min_effect=args.min_effect, power=args.power
        )
    )


if __name__ == "__main__":
    main()
