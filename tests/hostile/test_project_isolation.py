"""A member of project X reaches nothing of project Y: not by URL id, filter, export or partial.

Generated from the route table: two complete worlds are built (one object of every kind in each
project); a user who is admin of X and not a member of Y walks every route and API operation with
Y's ids, expecting 403/404 and none of Y's data in the body. Every API list is also queried with
each of Y's ids as a filter value, expecting nothing of Y back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db.models import Model
from django.urls import reverse

from apps.accounts.models import Membership, Project, Role
from tests.core.test_route_permissions import _all_routes, _table_key
from tests.routes import LOGIN, PUBLIC, SUPERUSER, route_table
from tests.schema_check import SchemaCheckedAPIClient as APIClient
from tests.world import build_world

FILTER_KEYS = (
    "project",
    "dataset",
    "rubric",
    "rubric_version",
    "version",
    "run",
    "judge",
    "reference_set",
    "queue",
    "pair",
    "report",
    "alert",
    "baseline_run",
    "candidate_run",
)


def _world_for(project: Project, make_user: Any, prefix: str) -> dict[str, Any]:
    users = {
        role.value: make_user(f"{prefix}-{role.value}", project=project, role=role) for role in Role
    }
    return build_world(project, users)


def _secrets(world: dict[str, Any]) -> set[str]:
    """Distinctive texts of a world's objects that must never show up for outsiders."""
    found = {world["project"].name}
    for value in world.values():
        if isinstance(value, Model) and not isinstance(value, Project):
            text = str(value)
            if len(text) >= 8:
                found.add(text)
    return found


@pytest.fixture
def worlds(make_user: Any) -> tuple[dict[str, Any], dict[str, Any], Any]:
    mine = Project.objects.create(name="Project Mine", slug="mine")
    theirs = Project.objects.create(name="Project Theirs Secretive", slug="theirs")
    world_x = _world_for(mine, make_user, "x")
    world_y = _world_for(theirs, make_user, "y")
    intruder = make_user("intruder")
    Membership.objects.create(project=mine, user=intruder, role=Role.ADMIN)
    return world_x, world_y, intruder


def _url_with(name: str, args: tuple[str, ...], pk_key: str | None, world: dict[str, Any]) -> str:
    kwargs: dict[str, Any] = {}
    for arg in args:
        if arg == "project":
            kwargs[arg] = world["project"].slug
        elif arg == "project_pk":
            kwargs[arg] = world["project"].pk
        else:
            value = world[pk_key] if arg == "pk" and pk_key else world[arg]
            kwargs[arg] = getattr(value, "pk", value)
    return reverse(name, kwargs=kwargs)


def test_no_route_reaches_the_other_project(worlds: Any) -> None:
    world_x, world_y, intruder = worlds
    secrets = _secrets(world_y) - _secrets(world_x)
    client = APIClient()
    client.force_login(intruder)
    table = route_table()
    failures: list[str] = []
    checked = 0
    for name, args in _all_routes():
        route = table[_table_key(name)]
        if route.access in (PUBLIC, LOGIN, SUPERUSER) or route.skip_reason or not args:
            continue
        url = _url_with(name, args, route.pk, world_y)
        body = {field: getattr(world_y[key], "pk", world_y[key]) for field, key in route.body}
        for method in {*route.methods, "GET"} if route.methods != ("DELETE",) else route.methods:
            response = client.generic(
                method, url, json.dumps(body), content_type="application/json"
            )
            checked += 1
            text = response.content.decode(errors="replace")
            leaked = sorted(s for s in secrets if s in text)
            if response.status_code not in (403, 404, 405) or leaked:
                failures.append(f"{method} {url}: {response.status_code} leaked={leaked}")
    print(f"isolation: {checked} requests with the other project's ids, {len(failures)} failures")
    assert checked > 0
    assert not failures, "\n".join(failures)


def _ids(response: Any) -> set[Any]:
    payload = response.json()
    results = payload.get("results", payload) if isinstance(payload, dict) else payload
    return {row.get("id") for row in results if isinstance(row, dict)}


def test_api_lists_filtered_by_the_other_projects_ids_return_nothing(worlds: Any) -> None:
    world_x, world_y, intruder = worlds
    secrets = _secrets(world_y) - _secrets(world_x)
    client = APIClient()
    client.force_login(intruder)
    failures: list[str] = []
    checked = 0
    for name, args in _all_routes():
        if not name.endswith("-list") or args:
            continue
        url = reverse(name)
        unfiltered = client.get(url)
        if unfiltered.status_code != 200:
            continue  # refused outright (e.g. site-admin lists)
        visible = _ids(unfiltered)
        leaked = sorted(s for s in secrets if s in unfiltered.content.decode(errors="replace"))
        if leaked:
            failures.append(f"GET {url}: shows {leaked}")
        for key in FILTER_KEYS:
            if key not in world_y:
                continue
            value = getattr(world_y[key], "pk", world_y[key])
            response = client.get(url, {key: value})
            checked += 1
            if response.status_code == 200:
                extra = _ids(response) - visible
                if extra:
                    failures.append(
                        f"GET {url}?{key}={value}: rows {sorted(extra)} not otherwise visible"
                    )
            elif response.status_code not in (400, 403, 404):
                failures.append(f"GET {url}?{key}={value}: {response.status_code}")
    print(f"isolation: {checked} filtered list requests")
    assert not failures, "\n".join(failures)
