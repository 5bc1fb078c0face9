"""Single exact tests: McNemar's on the discordant pairs and the sign test on flip directions."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import binom
from statsmodels.stats.contingency_tables import mcnemar


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
