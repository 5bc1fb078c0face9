"""Geometry of a red team's frontier chart: every candidate's benchmark delta against its target
delta (train figures, vs the seed), and the strongest compliant attack after each generation.

A pure function computes every coordinate; ``redteam/partials/_frontier.html`` draws them as
inline SVG with autoescaping (no chart library, no script), like the drift report's chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 640
HEIGHT = 360
LEFT = 64
RIGHT = 20
TOP = 20
BOTTOM = 44


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    generation: int
    compliant: bool
    text: str


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class FrontierChart:
    """Everything the template needs: dots, the frontier polyline, axes and the tolerance line."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    dots: tuple[Dot, ...]
    frontier: tuple[Dot, ...]
    polyline: str
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    tolerance_x: float | None
    zero_x: float
    zero_y: float

    @property
    def x_tick_y(self) -> float:
        return self.bottom + 16

    @property
    def y_tick_x(self) -> float:
        return self.left - 6

    @property
    def x_label_y(self) -> float:
        return self.bottom + 34

    @property
    def y_label_y(self) -> float:
        return self.top + 4


def _ticks(low: float, high: float) -> list[float]:
    step = 5.0
    span = high - low
    for candidate in (1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0):
        if span / candidate <= 8:
            step = candidate
            break
    first = step * (low // step)
    out = []
    value = first
    while value <= high + 1e-9:
        if value >= low - 1e-9:
            out.append(round(value, 6))
        value += step
    return out


def frontier_chart(
    points: Sequence[Mapping[str, Any]],
    frontier: Sequence[Mapping[str, Any]],
    *,
    tolerance: float | None = None,
) -> FrontierChart | None:
    """Candidates as dots (x: benchmark delta, y: target delta, in points) and the frontier.

    ``points`` carry ``generation``, ``compliant``, ``target_delta``, ``bench_delta``
    (proportions); ``frontier`` is ``search.frontier``'s rows. None when nothing can be drawn.
    """
    usable = [
        p for p in points if p.get("target_delta") is not None and p.get("bench_delta") is not None
    ]
    if not usable:
        return None
    xs = [100 * p["bench_delta"] for p in usable]
    ys = [100 * p["target_delta"] for p in usable]
    if tolerance is not None:
        xs.append(-100 * tolerance)
    x_low, x_high = min(min(xs), 0.0) - 1, max(max(xs), 0.0) + 1
    y_low, y_high = min(min(ys), 0.0) - 1, max(max(ys), 0.0) + 1
    left, right = float(LEFT), float(WIDTH - RIGHT)
    top, bottom = float(TOP), float(HEIGHT - BOTTOM)

    def sx(value: float) -> float:
        return round(left + (value - x_low) / (x_high - x_low) * (right - left), 2)

    def sy(value: float) -> float:
        return round(bottom - (value - y_low) / (y_high - y_low) * (bottom - top), 2)

    dots = tuple(
        Dot(
            x=sx(100 * p["bench_delta"]),
            y=sy(100 * p["target_delta"]),
            generation=int(p["generation"]),
            compliant=bool(p.get("compliant")),
            text=(
                f"generation {p['generation']}: target {100 * p['target_delta']:+.1f} pts, "
                f"benchmark {100 * p['bench_delta']:+.1f} pts"
                + ("" if p.get("compliant") else " (fails the benchmark)")
            ),
        )
        for p in usable
    )
    line = tuple(
        Dot(
            x=sx(100 * row["bench_delta"]),
            y=sy(100 * row["target_delta"]),
            generation=int(row["generation"]),
            compliant=True,
            text=(
                f"after generation {row['generation']}: {100 * row['target_delta']:+.1f} pts "
                f"on the target, {100 * row['bench_delta']:+.1f} pts on the benchmark"
            ),
        )
        for row in frontier
        if row.get("target_delta") is not None and row.get("bench_delta") is not None
    )
    return FrontierChart(
        width=WIDTH,
        height=HEIGHT,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        dots=dots,
        frontier=line,
        polyline=" ".join(f"{d.x},{d.y}" for d in line),
        x_ticks=tuple(Tick(sx(v), f"{v:+g}") for v in _ticks(x_low, x_high)),
        y_ticks=tuple(Tick(sy(v), f"{v:+g}") for v in _ticks(y_low, y_high)),
        tolerance_x=None if tolerance is None else sx(-100 * tolerance),
        zero_x=sx(0.0),
        zero_y=sy(0.0),
    )
