"""The route permission table, assembled from each app's ``tests/<app>/routes.py``.

Every URL pattern of the project must appear here (the table test fails otherwise). An entry
says who may use the route: a project capability, ``LOGIN`` (any signed-in user), ``PUBLIC``,
``SUPERUSER``; which HTTP methods to try; and which world object fills ``pk`` for API routes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from apps.accounts.permissions import Capability

PUBLIC = "public"
LOGIN = "login"
SUPERUSER = "superuser"


@dataclass(frozen=True)
class Route:
    access: Capability | str
    methods: tuple[str, ...] = ("GET",)
    pk: str | None = None  # world key whose id fills the ``pk`` URL argument
    body: tuple[tuple[str, str], ...] = ()  # (request field, world key) sent with writes
    skip_reason: str = ""  # only for routes whose access is tested elsewhere (say where)


APPS = (
    "core",
    "accounts",
    "rubrics",
    "datasets",
    "annotations",
    "judging",
    "drift",
    "forensics",
    "redteam",
)


def route_table() -> dict[str, Route]:
    table: dict[str, Route] = {}
    for app in APPS:
        try:
            module = importlib.import_module(f"tests.{app}.routes")
        except ModuleNotFoundError:
            continue
        table.update(module.ROUTES)
    return table
