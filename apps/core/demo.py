"""The demo: each app contributes a ``seed_demo(ctx)`` in its own ``demo.py``.

Steps run in ``INSTALLED_APPS`` order, which is also the layer order (docs/architecture.md):
annotations need datasets, runs need rubrics and reference sets, drift needs runs. Core names no
app, so a new app joins the demo by shipping a ``demo.py``.

``ctx`` carries what earlier steps made (the project, the users, rubrics, datasets...), so later
steps build on it. Every step is idempotent: running ``demo`` twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.apps import apps
from django.utils.module_loading import module_has_submodule


@dataclass
class DemoContext:
    """What the demo made so far, and where to print progress."""

    write: Any
    project: Any = None
    users: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)
    new_passwords: dict[str, str] = field(default_factory=dict)


def demo_seed(*, write: Any) -> DemoContext:
    """Run every app's demo step in order."""
    ctx = DemoContext(write=write)
    for app_config in apps.get_app_configs():
        if app_config.name == __package__ or not module_has_submodule(app_config.module, "demo"):
            continue
        step = getattr(import_module(f"{app_config.name}.demo"), "seed_demo", None)
        if step is not None:
            step(ctx)
    return ctx
