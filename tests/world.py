"""A project with one object of every kind, assembled from each app's ``tests/<app>/world.py``.

The route table test fills URL arguments from it by name (``rubric``, ``version``, ``run``...),
and the isolation tests build two worlds to check that one project cannot reach the other.
"""

from __future__ import annotations

import importlib
from typing import Any

from apps.accounts.models import Project

APPS = (
    "accounts",
    "rubrics",
    "datasets",
    "annotations",
    "judging",
    "drift",
    "forensics",
    "redteam",
)


def build_world(project: Project, users: dict[str, Any]) -> dict[str, Any]:
    """Objects keyed by name; each app's ``add_to_world(world)`` adds its own."""
    world: dict[str, Any] = {"project": project, "users": users}
    for app in APPS:
        try:
            module = importlib.import_module(f"tests.{app}.world")
        except ModuleNotFoundError:
            continue
        module.add_to_world(world)
    return world
