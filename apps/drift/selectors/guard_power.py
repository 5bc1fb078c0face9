"""What the guard's reference set can catch, per domain, at the judge's measured noise."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from django.db.models import Count

from apps.datasets.models import GoldLabel, ReferenceItem
from apps.drift import power
from apps.drift.models import DriftReport, ReportStatus
from apps.drift.selectors.guard import guard_for, guard_is_complete, guard_thresholds
from apps.rubrics.models import Rubric

# How many of the rubric's latest reports on the guard's judge and snapshot measure the noise.
POWER_NOISE_REPORTS = 5


@dataclass(frozen=True)
class GuardPowerLine:
    """What the guard's reference set can catch in one domain, at the judge's measured noise.

    ``pairs``: the domain's scored pairs (gold A or B); ``noise``: the median discordance rate of
    the domain over ``reports`` recent reports (None before any); ``smallest_drop``: the smallest
    accuracy drop (proportion) flagged with ``power`` (None when not measured or not reachable).
    """

    domain: str
    pairs: int
    noise: float | None
    reports: int
    smallest_drop: float | None
    power: float

    @property
    def noise_text(self) -> str:
        """The measured noise as a percentage (``3.2%``), empty before any report."""
        return "" if self.noise is None else f"{self.noise * 100:.1f}%"

    @property
    def sentence(self) -> str:
        """``harmlessness: 412 pairs; drops of 6 pts or more are caught 80% of the time ...``."""
        head = f"{self.domain}: {self.pairs} pairs; "
        if self.noise is None:
            return head + "the judge's noise is not measured yet (no drift report on this set)"
        if self.smallest_drop is None:
            return head + f"no drop is caught {self.power * 100:.0f}% of the time at this noise"
        # Rounded up: a promise of "6 pts" must hold for a 6-point drop.
        points = max(1, math.ceil(self.smallest_drop * 100 - 1e-9))
        return (
            head + f"drops of {points} pts or more are caught {self.power * 100:.0f}% of the "
            "time at this judge's measured noise"
        )


def guard_power_summary(rubric: Rubric) -> list[GuardPowerLine]:
    """One line per domain of the guard's reference set: what a drift check can catch there.

    Pairs per domain come from the snapshot (gold A or B only: gold ties carry no accuracy).
    The judge's noise is the domain's discordance rate (pairs right in one run only) in the
    rubric's latest ready reports on the guard's judge and snapshot, the median of up to
    ``POWER_NOISE_REPORTS`` of them: a report with real drift in the domain raises its rate, so
    the median keeps one drifting edit from making the promise look worse than it is, and any
    drift left in it only makes the promise more cautious. The smallest drop is
    ``power.smallest_drop_caught`` at the guard's alpha, shared among the snapshot's domains as
    the alert family shares it, and the guard's flag threshold. Empty when the guard is not
    complete.
    """
    if not guard_is_complete(rubric):
        return []
    guard = guard_for(rubric)
    judge_id, reference_set_id = guard.judge_id, guard.reference_set_id
    thresholds = guard_thresholds(rubric)
    counts = dict(
        ReferenceItem.objects.filter(
            reference_set_id=reference_set_id, gold_label__in=(GoldLabel.A, GoldLabel.B)
        )
        .values_list("pair__domain")
        .annotate(n=Count("id"))
        .order_by("pair__domain")
    )
    recent = (
        DriftReport.objects.filter(
            rubric=rubric,
            judge_id=judge_id,
            reference_set_id=reference_set_id,
            status=ReportStatus.READY,
        )
        .order_by("-finished_at", "-pk")
        .values_list("stats", flat=True)[:POWER_NOISE_REPORTS]
    )
    measured: dict[str, list[float]] = {}
    for stats in recent:
        for domain, scope in ((stats or {}).get("by_domain") or {}).items():
            rate = (scope or {}).get("discordance_rate")
            if rate is not None:
                measured.setdefault(domain, []).append(float(rate))
    lines = []
    for domain, pairs in counts.items():
        rates = measured.get(domain) or []
        noise = statistics.median(rates) if rates else None
        smallest = (
            None
            if noise is None
            else power.smallest_drop_caught(
                pairs,
                noise,
                alpha=thresholds.alpha,
                domains=len(counts),
                min_effect=thresholds.min_effect,
            )
        )
        lines.append(
            GuardPowerLine(
                domain=domain,
                pairs=pairs,
                noise=noise,
                reports=len(rates),
                smallest_drop=smallest,
                power=power.DEFAULT_POWER,
            )
        )
    return lines
