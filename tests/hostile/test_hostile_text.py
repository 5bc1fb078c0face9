"""Fixed probes of text the database refuses, for every API route (and the page forms).

The random fuzzing campaign found a NUL byte in a username (a 500 from psycopg) only in one
run of four; these probes are sent every time: a NUL character, a lone surrogate and an
over-long value in every path argument, every query parameter and every body field of every
operation of the OpenAPI schema. Each must answer a 4xx with a JSON body, never a 5xx, and a
probe in a URL argument or query parameter a 400 that names it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from rest_framework.authtoken.models import Token

from apps.core.hostile_text import MAX_LOOKUP_CHARS
from tests.hostile.test_api_fuzz import PATH_OBJECTS
from tests.world import build_world

pytestmark = pytest.mark.django_db

NUL = "bad\x00value"
SURROGATE = "bad\ud800value"
LONG = "x" * (MAX_LOOKUP_CHARS + 1)
# Lone surrogates cannot travel in a URL (UTF-8 has no encoding for them): JSON bodies only.
URL_PROBES = {"nul": NUL, "long": LONG}
BODY_PROBES = {"nul": NUL, "surrogate": SURROGATE}
PARAM_RE = re.compile(r"\{([^}]+)\}")
# Operations that read no body: the probe would not be refused but ignored (and revoking the
# caller's token would end this test's session).
BODYLESS = {("DELETE", "/api/auth/token/"), ("DELETE", "/api/projects/{project_pk}/members/{id}/")}


@pytest.fixture
def world(members: dict[str, Any], project: Any) -> dict[str, Any]:
    return build_world(project, members)


@pytest.fixture
def api(members: dict[str, Any]) -> Client:
    token = Token.objects.create(user=members["admin"]).key
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    caught: list[str] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        import traceback

        caught.append(traceback.format_exc(limit=-4))

    got_request_exception.connect(record)
    yield caught
    got_request_exception.disconnect(record)


def _operations(client: Client) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    return [
        (path, method.upper(), operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _path_value(path: str, name: str, world: dict[str, Any]) -> str:
    if name == "project_pk":
        return str(world["project"].pk)
    if path.startswith("/api/projects/{project_pk}/members/"):
        return world["users"]["viewer"].username
    keys = PATH_OBJECTS.get(path.strip("/").split("/")[1])
    return str(world[keys[0]].pk) if keys else "1"


def _fill(path: str, world: dict[str, Any], **probe: str) -> str:
    return PARAM_RE.sub(
        lambda m: probe.get(m.group(1)) or _path_value(path, m.group(1), world), path
    )


def _body_fields(operation: dict[str, Any], schema_components: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    ref = (content.get("application/json") or {}).get("schema", {}).get("$ref", "")
    if not ref:
        return []
    component = schema_components[ref.rsplit("/", 1)[1]]
    return list(component.get("properties", {}))


def _check(response: Any, where: str, errors: list[str], failures: list[str]) -> None:
    if response.status_code >= 500 or errors:
        failures.append(f"{where}: {response.status_code}\n{''.join(errors)[-1500:]}")
    elif not (400 <= response.status_code < 500) or "json" not in response.get("Content-Type", ""):
        failures.append(f"{where}: {response.status_code} {response.get('Content-Type')}")
    del errors[:]


def test_every_path_argument_and_query_parameter_refuses_probes_with_a_400_naming_it(
    api: Client, world: dict[str, Any], server_errors: list[str]
) -> None:
    failures: list[str] = []
    probed = 0
    for path, method, operation in _operations(api):
        call = getattr(api, method.lower())
        for name in PARAM_RE.findall(path):
            for label, probe in URL_PROBES.items():
                url = _fill(path, world, **{name: probe})
                response = call(url)
                probed += 1
                _check(response, f"{method} {path} [{name}={label}]", server_errors, failures)
                # The router's own pattern may not match the probe (404: no view reached).
                # The schema calls the router's ``pk`` argument ``id``.
                named = {name, "pk"} if name == "id" else {name}
                if response.status_code == 404:
                    continue
                if response.status_code != 400 or not named & set(response.json()):
                    failures.append(f"{method} {path} [{name}={label}]: {response.content[:200]!r}")
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "query":
                continue
            for label, probe in URL_PROBES.items():
                url = _fill(path, world) + "?" + f"{parameter['name']}="
                response = call(url + ("%00" if label == "nul" else probe))
                probed += 1
                where = f"{method} {path} [?{parameter['name']}={label}]"
                _check(response, where, server_errors, failures)
                if response.status_code != 400 or parameter["name"] not in response.json():
                    failures.append(f"{where}: {response.content[:200]!r}")
    assert probed > 100
    assert not failures, "\n".join(failures[:30]) + f"\n({len(failures)} failures)"


def test_every_body_field_refuses_nul_and_lone_surrogates(
    api: Client, world: dict[str, Any], server_errors: list[str]
) -> None:
    schema = api.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    failures: list[str] = []
    probed = refused = 0
    for path, method, operation in _operations(api):
        if method not in ("POST", "PUT", "PATCH", "DELETE") or (method, path) in BODYLESS:
            continue
        fields = _body_fields(operation, components)
        for field in [*fields, "nested"]:
            for label, probe in BODY_PROBES.items():
                value: Any = {"inner": [probe]} if field == "nested" else probe
                # json.dumps escapes the lone surrogate as \ud800, as a client would send it.
                body = json.dumps({field: value})
                response = getattr(api, method.lower())(
                    _fill(path, world), data=body, content_type="application/json"
                )
                probed += 1
                _check(response, f"{method} {path} [{field}={label}]", server_errors, failures)
                if response.status_code == 400:
                    refused += 1
                    assert field in json.dumps(response.json()), (method, path, response.json())
    assert probed > 100 and refused > probed * 0.8, (probed, refused)
    assert not failures, "\n".join(failures[:30]) + f"\n({len(failures)} failures)"


def test_the_members_endpoint_refuses_a_nul_username_in_every_form(
    api: Client, project: Any
) -> None:
    """The known case: a SlugRelatedField lookup with a NUL byte answered 500."""
    base = f"/api/projects/{project.pk}/members/"
    created = api.post(
        base, json.dumps({"username": NUL, "role": "viewer"}), content_type="application/json"
    )
    assert created.status_code == 400 and "username" in created.json()
    removed = api.delete(base, json.dumps({"username": NUL}), content_type="application/json")
    assert removed.status_code == 400 and "username" in removed.json()
    by_path = api.delete(f"{base}{NUL}/")
    assert by_path.status_code == 400 and "pk" in by_path.json()
    form = api.post(base, {"username": NUL, "role": "viewer"})
    assert form.status_code == 400 and "username" in form.json()


def test_pages_refuse_probes_in_queries_and_forms_with_an_escaped_400(
    members: dict[str, Any], project: Any
) -> None:
    client = Client()
    client.force_login(members["author"])
    for url in (
        f"/p/{project.slug}/runs/?status=%00",
        f"/p/{project.slug}/runs/judges/?x=" + "y" * (MAX_LOOKUP_CHARS + 1),
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("text/plain")
    page = client.post(
        f"/p/{project.slug}/runs/judges/new/",
        {"name": "<script>alert(1)</script>\x00", "backend": "offline", "concurrency": 1},
    )
    assert page.status_code == 400
    assert b"<script>" not in page.content
