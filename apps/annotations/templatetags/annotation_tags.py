"""Template filters for agreement tables."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# Landis and Koch's (1977) reading of kappa, the one most reports use; it is a convention to
# help people read the numbers, not a test.
_BANDS = (
    (0.8, "almost perfect"),
    (0.6, "substantial"),
    (0.4, "moderate"),
    (0.2, "fair"),
    (0.0, "slight"),
)


@register.filter
def agreement_band(value: Any) -> str:
    """A kappa or alpha in words (``moderate``...); empty for undefined values."""
    if value is None:
        return ""
    number = float(value)
    for threshold, name in _BANDS:
        if number > threshold or (threshold == 0.0 and number >= 0):
            return name
    return "poor"


@register.filter
def percent(value: Any, digits: int = 0) -> str:
    """A share (0.734) as a percentage (``73%``); an em dash for undefined values."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def number(value: Any, digits: int = 3) -> str:
    """A statistic with ``digits`` decimals; an em dash for undefined values."""
    if value is None:
        return "—"
    return f"{float(value):.{int(digits)}f}"


@register.filter
def ratio(done: Any, total: Any) -> float:
    """``done / total`` as a share, 0 when the total is 0 (for progress bars)."""
    return float(done) / float(total) if total else 0.0
