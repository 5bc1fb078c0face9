"""The demo: each app contributes a ``seed_demo(ctx)`` in its own ``demo.py``.

``ctx`` carries what earlier steps made (the project, the users, rubrics, datasets...), so later
steps build on it. Every step is idempotent: running ``demo`` twice changes nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

# Order matters: annotations need datasets, runs need rubrics and reference sets, drift needs runs.
DEMO_STEPS = (
    "apps.accounts.demo",
    "apps.rubrics.demo",
    "apps.datasets.demo",
    "apps.annotations.demo",
    "apps.judging.demo",
    "apps.drift.demo",
)


@dataclass
class DemoContext:
    """What the demo made so far, and where to print progress."""

    write: Any
    project: Any = None
    users: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)
    new_passwords: dict[str, str] = field(default_factory=dict)
    reset_passwords: bool = False


def demo_seed(*, write: Any, reset_passwords: bool = False) -> DemoContext:
    """Run every app's demo step in order (``reset_passwords``: new ones for the demo users)."""
    ctx = DemoContext(write=write, reset_passwords=reset_passwords)
    for module_name in DEMO_STEPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.seed_demo(ctx)
    return ctx
