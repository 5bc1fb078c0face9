"""JSON-ready values: finite Python floats or None (JSON has no NaN), no numpy scalars."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def num(value: Any) -> float | None:
    """A finite Python float, or None (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_ready(value: Any) -> Any:
    """Recursively turn numpy scalars into Python values and non-finite floats into None."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return num(value)
    return value
