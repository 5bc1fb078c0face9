"""Walk every URL pattern with each role, anonymous and an outsider, against the route table.

Readable routes are fetched by every caller: allowed roles must get through, the others must be
refused (403 for a member whose role is too low, 404 or 403 for a non-member, a login redirect or
401/403 for anonymous). Write routes are checked for refusals only; their effects are covered by
each app's own tests. A URL pattern missing from the table fails the test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.accounts.models import Role
from apps.accounts.permissions import ROLE_CAPABILITIES, Capability
from tests.routes import LOGIN, PUBLIC, SUPERUSER, Route, route_table
from tests.schema_check import SchemaCheckedAPIClient as APIClient
from tests.world import build_world

CALLERS = ("admin", "author", "annotator", "viewer", "outsider", "anonymous", "superuser")


def _walk(
    resolvers: list[Any], namespace: str = "", args: tuple[str, ...] = ()
) -> list[tuple[str, tuple[str, ...]]]:
    """(qualified name, URL argument names including those of enclosing includes)."""
    found = []
    for entry in resolvers:
        own = tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found.extend(_walk(entry.url_patterns, ns, args + own))
        elif isinstance(entry, URLPattern):
            name = entry.name or ("<unnamed>" if namespace else "")
            found.append((f"{namespace}{name}" if name else "", args + own))
    return found


def _all_routes() -> list[tuple[str, tuple[str, ...]]]:
    return _walk(get_resolver().url_patterns)


def _table_key(name: str) -> str:
    return "admin:*" if name.startswith("admin:") else name


def test_every_route_is_in_the_table() -> None:
    table = route_table()
    unnamed = [args for name, args in _all_routes() if not name]
    assert not unnamed, f"URL patterns without a name cannot be checked: {unnamed}"
    missing = sorted({_table_key(n) for n, _ in _all_routes()} - set(table))
    assert not missing, (
        f"routes missing from the permission table (tests/<app>/routes.py): {missing}"
    )
    stale = sorted(set(table) - {_table_key(n) for n, _ in _all_routes()})
    assert not stale, f"table entries for routes that no longer exist: {stale}"


def _allowed(route: Route, caller: str) -> bool:
    if caller == "superuser" or route.access == PUBLIC:
        return True
    if caller == "anonymous":
        return False
    if route.access == LOGIN:
        return True
    if route.access == SUPERUSER or caller == "outsider":
        return False
    return Role(caller) in ROLE_CAPABILITIES[Capability(route.access)]


def _url(name: str, args: tuple[str, ...], route: Route, world: dict[str, Any]) -> str:
    kwargs: dict[str, Any] = {}
    for arg in args:
        if arg == "project":
            kwargs[arg] = world["project"].slug
        elif arg == "project_pk":
            kwargs[arg] = world["project"].pk
        elif arg == "pk":
            assert route.pk, f"{name}: table entry must say which world object fills pk"
            value = world[route.pk]
            kwargs[arg] = getattr(value, "pk", value)
        else:
            value = world[arg]
            kwargs[arg] = getattr(value, "pk", value)
    return reverse(name, kwargs=kwargs)


def _is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


@pytest.fixture
def world(members: dict[str, Any], make_user: Any, project: Any) -> dict[str, Any]:
    members["superuser"] = make_user("root1", superuser=True)
    return build_world(project, members)


def _client(world: dict[str, Any], caller: str) -> APIClient:
    client = APIClient()
    if caller != "anonymous":
        client.force_login(world["users"][caller])
    return client


def test_route_permissions(world: dict[str, Any]) -> None:
    table = route_table()
    failures: list[str] = []
    checked = 0
    for name, args in _all_routes():
        route = table[_table_key(name)]
        if route.skip_reason:
            continue
        url = _url(name, args, route, world)
        is_api = url.startswith("/api/")
        for method in route.methods:
            body = {field: getattr(world[key], "pk", world[key]) for field, key in route.body}
            for caller in CALLERS:
                allowed = _allowed(route, caller)
                if method != "GET" and allowed:
                    continue  # effects of writes are tested by each app
                client = _client(world, caller)
                response = client.generic(
                    method, url, data=_json(body), content_type="application/json"
                )
                checked += 1
                status = response.status_code
                if allowed:
                    ok = (status < 400 and not _is_login_redirect(response)) or (
                        name == "healthz" and status == 503
                    )
                elif caller == "anonymous":
                    ok = _is_login_redirect(response) if not is_api else status in (401, 403)
                elif caller == "outsider":
                    ok = status in (403, 404)
                else:
                    ok = status in (403, 404) if route.access in (SUPERUSER,) else status == 403
                    if name.startswith("admin:"):
                        ok = ok or status == 302
                if not ok:
                    failures.append(f"{method} {url} as {caller}: {status} (allowed={allowed})")
    print(f"route permission table: {checked} requests checked")
    assert not failures, "\n".join(failures)


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body)
