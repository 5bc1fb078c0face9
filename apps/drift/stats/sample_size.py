"""Sample size and minimum detectable drop of a paired accuracy comparison (Connor 1987)."""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.stats import norm

DEFAULT_POWER = 0.8


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
