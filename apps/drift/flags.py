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

FlagKind = Literal["domain_drift", "masked_drift", "aggregate_drop", "directional_shift"]
Severity = Literal["high", "medium"]

# Comparisons of a computed delta against a threshold such as -0.01 must not hinge on the last bit
# of a float (-1/100 computed as a difference of means can land a hair on either side).
_EPS = 1e-9

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


def _direction_flags(
    scope: Mapping[str, Any],
    domain: str | None,
    thresholds: DriftThresholds,
) -> list[dict[str, Any]]:
    """Directional-shift flags of one scope; domains use the Holm-adjusted p of the test."""
    found = []
    name = domain if domain is not None else "overall"
    for key, label in DIRECTION_LABELS.items():
        test = (scope.get("direction") or {}).get(key) or {}
        p = test.get("p") if domain is None else test.get("p_holm")
        n = test.get("n") or 0
        share = test.get("share")
        if p is None or share is None or n < thresholds.min_flips_for_direction:
            continue
        if p < thresholds.alpha:
            adjusted = "" if domain is None else ", Holm"
            message = (
                f"{name}: {share * 100:.0f}% of {n} flips moved toward {label} "
                f"({format_p(p)}{adjusted})"
            )
            found.append(_flag("directional_shift", domain, message, p=p, direction=key))
    return found


def drift_flags(
    overall: Mapping[str, Any],
    by_domain: Mapping[str, Mapping[str, Any]],
    thresholds: DriftThresholds,
) -> list[dict[str, Any]]:
    """The flags of a drift report, per docs/judging-and-drift.md "Flags".

    - ``domain_drift``: a domain with delta <= -min_effect and Holm-adjusted McNemar p < alpha;
    - ``masked_drift``: one per drifting domain when the overall delta is within tolerance
      (>= -tolerance), i.e. the edit would pass aggregate validation;
    - ``aggregate_drop``: overall delta <= -tolerance with overall McNemar p < alpha;
    - ``directional_shift``: a direction test (toward longer / refusal / position A) with p < alpha
      among at least ``min_flips_for_direction`` informative flips. Domain-level direction tests
      use their Holm-adjusted p (adjusted across domains, per direction), for the same reason the
      accuracy tests do: twenty domains times three directions would otherwise raise false alarms
      on most reports. The overall tests are single tests and use the raw p.

    Each flag is ``{kind, domain, message, delta, p, direction}``; ``domain`` is None for the
    overall scope, ``delta`` is a proportion, ``direction`` names the direction test.
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

    overall_p = overall.get("mcnemar_p")
    if (
        overall_delta is not None
        and overall_p is not None
        and overall_delta <= -thresholds.tolerance + _EPS
        and overall_p < thresholds.alpha
    ):
        message = f"overall {format_points(overall_delta)} ({format_p(overall_p)}, McNemar)"
        found.append(_flag("aggregate_drop", None, message, delta=overall_delta, p=overall_p))

    found.extend(_direction_flags(overall, None, thresholds))
    for domain in sorted(by_domain):
        found.extend(_direction_flags(by_domain[domain], domain, thresholds))
    return found


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
