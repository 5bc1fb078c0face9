"""Geometry of the per-domain accuracy chart of a drift report (baseline vs candidate).

A pure function computes every coordinate; the template ``drift/partials/_chart.html`` draws
them as inline SVG with Django's autoescaping, so domain names (user text) are never marked
safe and no chart library or script is needed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

WIDTH = 680
LABEL_WIDTH = 170
RIGHT_MARGIN = 56
TOP = 30
BAR_HEIGHT = 11
BAR_GAP = 3
GROUP_GAP = 16
AXIS_HEIGHT = 24
LABEL_CHARS = 24
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
DASH = "\u2013"  # shown for a missing value


@dataclass(frozen=True)
class Bar:
    """One accuracy bar with its 95% interval whisker (coordinates in SVG user units)."""

    series: str  # "baseline" or "candidate"
    y: float
    width: float
    value: float | None
    text: str
    whisker: tuple[float, float] | None
    mid_y: float
    bottom: float
    text_y: float


@dataclass(frozen=True)
class Group:
    """One domain (or "all pairs"): its label and its two bars."""

    name: str
    label: str
    label_y: float
    flagged: bool
    overall: bool
    delta_text: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class AccuracyChart:
    """Everything the template needs to draw the chart."""

    width: int
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    groups: tuple[Group, ...]
    ticks: tuple[Tick, ...] = field(default=())
    bar_height: int = BAR_HEIGHT

    @property
    def legend_y(self) -> float:
        return TOP / 2

    @property
    def label_x(self) -> float:
        """Right edge of the domain labels."""
        return self.plot_left - 8

    @property
    def value_x(self) -> float:
        """Left edge of the value texts, right of the plot."""
        return self.plot_right + 4

    @property
    def tick_y(self) -> float:
        """Baseline of the axis tick labels."""
        return self.plot_bottom + 14


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def _x(value: float, left: float, span: float) -> float:
    return round(left + max(0.0, min(1.0, value)) * span, 2)


def accuracy_chart(
    by_domain: Mapping[str, Mapping[str, Any]],
    overall: Mapping[str, Any] | None = None,
    *,
    flagged: Collection[str] = (),
) -> AccuracyChart:
    """Bars of baseline and candidate accuracy per domain, with Wilson interval whiskers.

    ``overall`` (optional) comes first as "all pairs"; domains follow in name order. A domain
    in ``flagged`` is marked so the template can highlight it. Accuracies are proportions.
    """
    left = float(LABEL_WIDTH)
    right = float(WIDTH - RIGHT_MARGIN)
    span = right - left
    scopes: list[tuple[str, Mapping[str, Any], bool]] = []
    if overall:
        scopes.append(("all pairs", overall, True))
    scopes.extend((name, by_domain[name], False) for name in sorted(by_domain))

    groups: list[Group] = []
    y = float(TOP)
    for name, scope, is_overall in scopes:
        bars = []
        for index, series in enumerate(("baseline", "candidate")):
            value = scope.get(f"{series}_accuracy")
            interval = scope.get(f"{series}_ci")
            bar_y = y + index * (BAR_HEIGHT + BAR_GAP)
            whisker = None
            if interval and interval[0] is not None and interval[1] is not None:
                whisker = (_x(interval[0], left, span), _x(interval[1], left, span))
            bars.append(
                Bar(
                    series=series,
                    y=bar_y,
                    width=0.0 if value is None else round(_x(value, left, span) - left, 2),
                    value=value,
                    text=DASH if value is None else f"{value * 100:.1f}%",
                    whisker=whisker,
                    mid_y=bar_y + BAR_HEIGHT / 2,
                    bottom=bar_y + BAR_HEIGHT,
                    text_y=bar_y + BAR_HEIGHT - 1,
                )
            )
        delta = scope.get("delta")
        groups.append(
            Group(
                name=name,
                label=_label(name),
                label_y=y + BAR_HEIGHT + BAR_GAP / 2 + 4,
                flagged=name in flagged,
                overall=is_overall,
                delta_text="" if delta is None else f"{delta * 100:+.1f} pts",
                bars=tuple(bars),
            )
        )
        y += 2 * BAR_HEIGHT + BAR_GAP + GROUP_GAP
    plot_bottom = y - GROUP_GAP / 2
    ticks = tuple(Tick(x=_x(t, left, span), text=f"{t * 100:.0f}%") for t in TICKS)
    return AccuracyChart(
        width=WIDTH,
        height=plot_bottom + AXIS_HEIGHT,
        plot_left=left,
        plot_right=right,
        plot_top=TOP - 6,
        plot_bottom=plot_bottom,
        groups=tuple(groups),
        ticks=ticks,
    )
