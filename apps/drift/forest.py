"""Geometry of a drift report's forest plot: each domain's change of accuracy (candidate -
baseline) with its 95% paired bootstrap interval, on one axis centred on zero.

A pure function computes every coordinate; ``drift/partials/_forest.html`` draws them as inline
SVG with Django's autoescaping (domain names are user text), with no chart library or script.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.drift.charts import DASH, Tick, short_label

FOREST_WIDTH = 620
FOREST_LABEL_WIDTH = 140
FOREST_RIGHT = 190  # room for "-30.0 (-38.1 to -21.9)" right of the plot, at 13 px
FOREST_TOP = 40
FOREST_ROW = 26
FOREST_AXIS = 30
# The axis spans at least 5 points either side of zero, in steps of 5, so a small change is not
# drawn as a large one.
FOREST_MIN_SPAN = 0.05
FOREST_STEP = 0.05
FOREST_LABEL_CHARS = 16  # at 14 px, within the label column
FOREST_SQUARE = 10


@dataclass(frozen=True)
class ForestRow:
    """One scope's delta (a square) and its 95% interval (a line), in SVG user units."""

    name: str
    label: str
    y: float
    text_y: float
    x: float | None
    interval: tuple[float, float] | None
    text: str
    flagged: bool
    overall: bool

    @property
    def square(self) -> tuple[float, float] | None:
        """The top left corner of the estimate's square."""
        if self.x is None:
            return None
        return round(self.x - FOREST_SQUARE / 2, 2), self.y - FOREST_SQUARE / 2


@dataclass(frozen=True)
class ForestChart:
    """Everything ``drift/partials/_forest.html`` needs to draw the deltas."""

    width: int
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    zero_x: float
    threshold_x: float | None
    rows: tuple[ForestRow, ...]
    ticks: tuple[Tick, ...]

    @property
    def label_x(self) -> float:
        return self.plot_left - 8

    @property
    def value_x(self) -> float:
        return self.plot_right + 8

    @property
    def tick_y(self) -> float:
        return self.plot_bottom + 16

    @property
    def axis_title_y(self) -> float:
        return self.plot_top - 16


def _points(value: float, digits: int = 1) -> str:
    """Signed points with a true minus sign (``\u221230.0``, ``+2.5``)."""
    return f"{value * 100:+.{digits}f}".replace("-", "\u2212")


def _forest_steps(scopes: Sequence[Mapping[str, Any]], min_effect: float | None) -> int:
    """How many 5-point steps the axis spans either side of zero: 1, or an even number, so the
    axis has ticks at its ends, its middle and half way (whole multiples of 5 points)."""
    values = [FOREST_MIN_SPAN, *([min_effect] if min_effect else [])]
    for scope in scopes:
        values.extend(abs(v) for v in [scope.get("delta"), *(scope.get("delta_ci") or [])] if v)
    steps = math.ceil(round(max(values) / FOREST_STEP, 6))
    return steps + 1 if steps > 1 and steps % 2 else steps


def forest_chart(
    by_domain: Mapping[str, Mapping[str, Any]],
    overall: Mapping[str, Any] | None = None,
    *,
    flagged: Collection[str] = (),
    min_effect: float | None = None,
) -> ForestChart:
    """Each scope's accuracy change (candidate - baseline, a proportion) with its 95% paired
    bootstrap interval, on one axis centred on zero.

    ``overall`` comes first as "all pairs", domains follow in name order, as on the accuracy
    chart. ``min_effect`` draws the guard's drop threshold; a domain in ``flagged`` is marked.
    """
    left = float(FOREST_LABEL_WIDTH)
    right = float(FOREST_WIDTH - FOREST_RIGHT)
    scopes: list[tuple[str, Mapping[str, Any], bool]] = []
    if overall:
        scopes.append(("all pairs", overall, True))
    scopes.extend((name, by_domain[name], False) for name in sorted(by_domain))
    steps = _forest_steps([scope for _, scope, _ in scopes], min_effect)
    span = steps * FOREST_STEP

    def x_of(value: float) -> float:
        clamped = max(-span, min(span, value))
        return round(left + (clamped + span) / (2 * span) * (right - left), 2)

    rows = []
    for index, (name, scope, is_overall) in enumerate(scopes):
        y = FOREST_TOP + index * FOREST_ROW + FOREST_ROW / 2
        delta = scope.get("delta")
        ci = scope.get("delta_ci") or [None, None]
        interval = None
        if ci[0] is not None and ci[1] is not None:
            interval = (x_of(ci[0]), x_of(ci[1]))
        text = DASH
        if delta is not None:
            text = _points(delta)
            if interval is not None:
                text += f" ({_points(ci[0])} to {_points(ci[1])})"
        rows.append(
            ForestRow(
                name=name,
                label=short_label(name, FOREST_LABEL_CHARS),
                y=y,
                text_y=y + 4,
                x=None if delta is None else x_of(delta),
                interval=interval,
                text=text,
                flagged=name in flagged,
                overall=is_overall,
            )
        )
    bottom = FOREST_TOP + len(scopes) * FOREST_ROW
    stride = max(1, steps // 2)
    ticks = tuple(
        Tick(x=x_of(k * FOREST_STEP), text=_points(k * FOREST_STEP, digits=0) if k else "0")
        for k in range(-steps, steps + 1)
        if k % stride == 0
    )
    return ForestChart(
        width=FOREST_WIDTH,
        height=bottom + FOREST_AXIS,
        plot_left=left,
        plot_right=right,
        plot_top=float(FOREST_TOP),
        plot_bottom=float(bottom),
        zero_x=x_of(0.0),
        threshold_x=x_of(-min_effect) if min_effect else None,
        rows=tuple(rows),
        ticks=ticks,
    )
