"""Geometry of the charts of the drift pages: a report's per-domain accuracy (baseline vs
candidate) and a rubric's history (the forest plot of a report's deltas is in ``forest``).

Pure functions compute every coordinate; the templates under ``drift/partials/`` draw them as
inline SVG with Django's autoescaping, so domain names (user text) are never marked safe and no
chart library or script is needed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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


def short_label(name: str, limit: int = LABEL_CHARS) -> str:
    """``name`` cut to ``limit`` characters with an ellipsis, to fit a chart's label column."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


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
                label=short_label(name),
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


# --- drift against the anchor over a rubric's history --------------------------------------------

HISTORY_WIDTH = 680
HISTORY_LEFT = 56
HISTORY_RIGHT = 130
HISTORY_TOP = 16
HISTORY_PLOT_HEIGHT = 200
HISTORY_STATE_ROWS = 40
# At least this many points either side of zero, so a flat history is not drawn as noise.
HISTORY_MIN_SPAN = 0.05
SERIES_CLASSES = 6  # drift.css colours series-0 .. series-5


@dataclass(frozen=True)
class HistoryPoint:
    """One version's delta against the anchor in one domain (proportion), where it is drawn."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class HistorySeries:
    """One domain's line: ``segments`` are polylines (a version without a comparison breaks it)."""

    name: str
    label: str
    css: str
    overall: bool
    segments: tuple[str, ...]
    points: tuple[HistoryPoint, ...]
    label_y: float


@dataclass(frozen=True)
class HistoryColumn:
    """One version on the x axis, with its gate state."""

    x: float
    label: str
    state: str
    badge: str
    anchor: bool


@dataclass(frozen=True)
class YTick:
    """A label on the vertical axis (points)."""

    y: float
    text: str


@dataclass(frozen=True)
class HistoryChart:
    """Everything ``drift/partials/_history_chart.html`` needs to draw the anchor history."""

    width: int
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    zero_y: float
    threshold_y: float | None
    series: tuple[HistorySeries, ...]
    columns: tuple[HistoryColumn, ...]
    ticks: tuple[YTick, ...]

    @property
    def tick_x(self) -> float:
        """Right edge of the axis labels."""
        return self.plot_left - 6

    @property
    def version_y(self) -> float:
        return self.plot_bottom + 14

    @property
    def state_y(self) -> float:
        return self.plot_bottom + 30

    @property
    def series_x(self) -> float:
        return self.plot_right + 10


def history_chart(
    columns: Sequence[tuple[str, str, str, bool]],
    deltas: Mapping[str, Sequence[float | None]],
    *,
    min_effect: float | None = None,
) -> HistoryChart:
    """Lines of each domain's accuracy change against the anchor, one point per version.

    ``columns`` are ``(label, state, badge class, is_anchor)`` per version, oldest first;
    ``deltas`` maps a domain (``"overall"`` first when present) to one delta per column (None:
    no comparison with the anchor). ``min_effect`` draws the guard's drop threshold. Deltas are
    proportions; the axis is in points and always spans at least 5 either side of zero.
    """
    left = float(HISTORY_LEFT)
    right = float(HISTORY_WIDTH - HISTORY_RIGHT)
    top = float(HISTORY_TOP)
    bottom = top + HISTORY_PLOT_HEIGHT
    values = [v for series in deltas.values() for v in series if v is not None]
    if min_effect:
        values.append(-min_effect)
    low = min([-HISTORY_MIN_SPAN, *values])
    high = max([HISTORY_MIN_SPAN, *values])

    def y_of(value: float) -> float:
        return round(bottom - (value - low) / (high - low) * (bottom - top), 2)

    count = len(columns)
    step = (right - left) / max(count - 1, 1)

    def x_of(index: int) -> float:
        return round(left + (index * step if count > 1 else (right - left) / 2), 2)

    drawn: list[HistorySeries] = []
    for position, (name, series) in enumerate(deltas.items()):
        points: list[HistoryPoint] = []
        segments: list[str] = []
        current: list[str] = []
        for index, value in enumerate(series):
            if value is None:
                if len(current) > 1:
                    segments.append(" ".join(current))
                current = []
                continue
            point = HistoryPoint(x=x_of(index), y=y_of(value), text=f"{value * 100:+.1f} pts")
            points.append(point)
            current.append(f"{point.x},{point.y}")
        if len(current) > 1:
            segments.append(" ".join(current))
        last = points[-1].y if points else bottom
        drawn.append(
            HistorySeries(
                name=name,
                label=short_label(name),
                css=f"series-{position % SERIES_CLASSES}",
                overall=name == "overall",
                segments=tuple(segments),
                points=tuple(points),
                label_y=last + 4,
            )
        )
    tick_values = sorted({round(low, 2), 0.0, round(high, 2)})
    return HistoryChart(
        width=HISTORY_WIDTH,
        height=bottom + HISTORY_STATE_ROWS,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        zero_y=y_of(0.0),
        threshold_y=y_of(-min_effect) if min_effect else None,
        series=tuple(drawn),
        columns=tuple(
            HistoryColumn(x=x_of(i), label=label, state=state, badge=badge, anchor=anchor)
            for i, (label, state, badge, anchor) in enumerate(columns)
        ),
        ticks=tuple(YTick(y=y_of(v), text=f"{v * 100:+.0f}") for v in tick_values),
    )
