"""Flag rules of a drift report and the severity of the alert they open.

Plain functions over the statistics that :mod:`apps.drift.stats` computes (the ``overall`` and
``by_domain`` mappings of a drift report), so the rules can be read, tested and shown on their own.
Every effect size here is a proportion in 0..1 (0.02 is two accuracy points); messages speak in
points because that is what a reader of the report sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

FlagKind = Literal["domain_drift", "masked_drift", "aggregate_drop", "directional_shift"]
Severity = Literal["high", "medium"]

# Comparisons of a computed delta against a threshold such as -0.01 must not hinge on the last bit
# of a float (-1/100 computed as a difference of means can land a hair on either side).
_EPS = 1e-9

ACCURACY_SHARE = 0.8
"""The share of alpha the alert family gives its accuracy tests; the direction tests share the rest.

The guard exists to catch accuracy drift (above all, drift masked by the other domains), so most
of the family's error budget goes to those tests; a real change of preference makes lopsided
flips, whose sign test is significant far beyond what the remaining share asks for.
"""
DIRECTION_SHARE = 1 - ACCURACY_SHARE

HIGH_SEVERITY_DROP = 0.05
"""A flagged accuracy drop of this size (5 points) or more makes the alert high severity."""

DIRECTION_LABELS: dict[str, str] = {
    "toward_longer": "the longer response",
    "toward_refusal": "the refusing response",
    "toward_position_a": "position A",
}


@dataclass(frozen=True)
class DriftThresholds:
    """The thresholds of a rubric's drift guard, as proportions (0.02 = 2 accuracy points).

    ``min_effect``: the smallest per-domain drop worth a flag; ``tolerance``: how far the overall
    accuracy may fall and still pass aggregate validation; ``alpha``: significance level of every
    test; ``min_flips_for_direction``: a direction test needs at least this many informative flips.
    """

    min_effect: float = 0.02
    tolerance: float = 0.01
    alpha: float = 0.05
    min_flips_for_direction: int = 20

    def __post_init__(self) -> None:
        if not 0 <= self.min_effect <= 1 or not 0 <= self.tolerance <= 1:
            raise ValueError("min_effect and tolerance are proportions between 0 and 1")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must lie strictly between 0 and 1")
        if self.min_flips_for_direction < 1:
            raise ValueError("min_flips_for_direction must be at least 1")


def format_points(delta: float) -> str:
    """An accuracy delta (proportion) as signed points with one decimal: ``-9.8 pts``."""
    return f"{delta * 100:+.1f} pts"


def format_p(p: float) -> str:
    """A p-value as a reader wants it: three decimals, or ``p<0.001``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _flag(
    kind: FlagKind,
    domain: str | None,
    message: str,
    *,
    delta: float | None = None,
    p: float | None = None,
    direction: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "domain": domain,
        "message": message,
        "delta": delta,
        "p": p,
        "direction": direction,
    }


def _direction_tests(
    overall: Mapping[str, Any],
    by_domain: Mapping[str, Mapping[str, Any]],
    thresholds: DriftThresholds,
) -> list[tuple[str | None, str, str, Mapping[str, Any]]]:
    """(domain, key, label, test) of every direction test with enough flips, overall first."""
    scopes: list[tuple[str | None, Mapping[str, Any]]] = [(None, overall)]
    scopes += [(domain, by_domain[domain]) for domain in sorted(by_domain)]
    found = []
    for domain, scope in scopes:
        for key, label in DIRECTION_LABELS.items():
            test = (scope.get("direction") or {}).get(key) or {}
            n = test.get("n") or 0
            if test.get("p") is None or test.get("share") is None:
                continue
            if n < thresholds.min_flips_for_direction:
                continue
            found.append((domain, key, label, test))
    return found


def _shift_words(domain: str | None, label: str, test: Mapping[str, Any]) -> str:
    name = domain if domain is not None else "overall"
    return f"{name}: {test['share'] * 100:.0f}% of {test['n']} flips moved toward {label}"


def drift_flags(
    overall: Mapping[str, Any],
    by_domain: Mapping[str, Mapping[str, Any]],
    thresholds: DriftThresholds,
) -> list[dict[str, Any]]:
    """The flags of a drift report, per docs/judging-and-drift.md "Flags": what opens an alert.

    Every test behind a flag belongs to the report's alert family (``stats.alert_family``), and
    ``p_holm`` is its adjusted p in that family, so the chance that an edit which changed nothing
    raises any flag is at most alpha:

    - ``domain_drift``: a domain with delta <= -min_effect whose accuracy test survived
      (adjusted p < alpha);
    - ``masked_drift``: one per drifting domain when the overall delta is within tolerance
      (>= -tolerance), i.e. the edit would pass aggregate validation;
    - ``aggregate_drop``: overall delta <= -tolerance and the overall accuracy test survived;
    - ``directional_shift``: a direction test (toward longer / refusal / position A), overall or
      in a domain, among at least ``min_flips_for_direction`` informative flips, that survived.

    Each flag is ``{kind, domain, message, delta, p, direction}``; ``domain`` is None for the
    overall scope, ``delta`` is a proportion, ``p`` the adjusted p, ``direction`` names the
    direction test.
    """
    found: list[dict[str, Any]] = []
    overall_delta = overall.get("delta")
    drifting: list[tuple[str, float, float]] = []
    for domain in sorted(by_domain):
        scope = by_domain[domain]
        delta, p_holm = scope.get("delta"), scope.get("p_holm")
        if delta is None or p_holm is None:
            continue
        if delta <= -thresholds.min_effect + _EPS and p_holm < thresholds.alpha:
            drifting.append((domain, delta, p_holm))
            message = f"{domain} {format_points(delta)} ({format_p(p_holm)}, Holm)"
            found.append(_flag("domain_drift", domain, message, delta=delta, p=p_holm))

    if overall_delta is not None and overall_delta >= -thresholds.tolerance - _EPS:
        for domain, delta, p_holm in drifting:
            message = (
                f"{domain} {format_points(delta)} ({format_p(p_holm)}, Holm) "
                f"while overall {format_points(overall_delta)}"
            )
            found.append(_flag("masked_drift", domain, message, delta=delta, p=p_holm))

    overall_p = overall.get("p_holm")
    if (
        overall_delta is not None
        and overall_p is not None
        and overall_delta <= -thresholds.tolerance + _EPS
        and overall_p < thresholds.alpha
    ):
        message = f"overall {format_points(overall_delta)} ({format_p(overall_p)}, Holm)"
        found.append(_flag("aggregate_drop", None, message, delta=overall_delta, p=overall_p))

    for scope_name, key, label, test in _direction_tests(overall, by_domain, thresholds):
        p = test.get("p_holm")
        if p is not None and p < thresholds.alpha:
            message = f"{_shift_words(scope_name, label, test)} ({format_p(p)}, Holm)"
            found.append(_flag("directional_shift", scope_name, message, p=p, direction=key))
    return found


@dataclass(frozen=True)
class AlertDecisions:
    """Which flags many reports raise at once (:func:`alert_decisions`); arrays over reports."""

    domain_drift: NDArray[np.bool_]
    """(reports, domains): the domain's accuracy drop is flagged."""
    masked_drift: NDArray[np.bool_]
    """(reports, domains): ... while the overall delta stays within tolerance."""
    aggregate_drop: NDArray[np.bool_]
    """(reports,): the overall accuracy drop is flagged."""
    directional_shift: NDArray[np.bool_]
    """(reports, direction tests): the direction test is flagged."""

    @property
    def opens_alert(self) -> NDArray[np.bool_]:
        """(reports,): the report raises at least one flag, so it opens an alert."""
        found: NDArray[np.bool_] = (
            self.domain_drift.any(axis=-1)
            | self.aggregate_drop
            | self.directional_shift.any(axis=-1)
        )
        return found


def alert_decisions(
    *,
    overall_delta: NDArray[np.float64],
    overall_p: NDArray[np.float64],
    domain_delta: NDArray[np.float64],
    domain_p: NDArray[np.float64],
    direction_p: NDArray[np.float64],
    thresholds: DriftThresholds,
) -> AlertDecisions:
    """The rules of :func:`drift_flags` over arrays of many reports, for simulations.

    ``*_p`` are adjusted p-values in the alert family (NaN: not performed); deltas are
    proportions. Shapes: overall (reports,), domains (reports, domains), direction tests
    (reports, tests). The simulation test checks that this and :func:`drift_flags` agree.
    """
    with np.errstate(invalid="ignore"):
        domain = (domain_delta <= -thresholds.min_effect + _EPS) & (domain_p < thresholds.alpha)
        within = overall_delta >= -thresholds.tolerance - _EPS
        aggregate = (overall_delta <= -thresholds.tolerance + _EPS) & (overall_p < thresholds.alpha)
        direction = direction_p < thresholds.alpha
    return AlertDecisions(
        domain_drift=domain,
        masked_drift=domain & within[..., None],
        aggregate_drop=aggregate,
        directional_shift=direction,
    )


def direction_notes(
    overall: Mapping[str, Any],
    by_domain: Mapping[str, Mapping[str, Any]],
    thresholds: DriftThresholds,
) -> list[dict[str, Any]]:
    """Direction tests significant on their own (raw p < alpha) that did not survive the family.

    Information for the reader, never an alert: with a dozen direction tests per report, some
    are below alpha by chance alone on an edit that changed nothing. Each note is ``{kind:
    "directional_shift", domain, message, p, p_adjusted, direction}``.
    """
    notes = []
    for domain, key, label, test in _direction_tests(overall, by_domain, thresholds):
        p, p_adjusted = test.get("p"), test.get("p_holm")
        if p is None or p >= thresholds.alpha:
            continue
        if p_adjusted is not None and p_adjusted < thresholds.alpha:
            continue
        adjusted = "" if p_adjusted is None else f"; {format_p(p_adjusted)} after correction"
        notes.append(
            {
                "kind": "directional_shift",
                "domain": domain,
                "message": f"{_shift_words(domain, label, test)} ({format_p(p)}{adjusted})",
                "p": p,
                "p_adjusted": p_adjusted,
                "direction": key,
            }
        )
    return notes


def drift_severity(flags: Sequence[Mapping[str, Any]]) -> Severity | None:
    """Severity of the alert a report opens: None without flags; ``high`` for masked drift or a
    flagged accuracy drop of 5 points or more; ``medium`` otherwise."""
    if not flags:
        return None
    for flag in flags:
        if flag["kind"] == "masked_drift":
            return "high"
        delta = flag.get("delta")
        if (
            flag["kind"] in ("domain_drift", "aggregate_drop")
            and delta is not None
            and delta <= -HIGH_SEVERITY_DROP + _EPS
        ):
            return "high"
    return "medium"
