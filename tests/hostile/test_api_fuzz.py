"""Property-based fuzzing of every API operation in the OpenAPI schema, for each role.

Schemathesis generates requests (valid and invalid) from the schema served at ``/api/schema/``
and sends them through Django's real WSGI application, authenticated with an API token of an
admin, author, annotator and viewer of a project holding one object of every kind, and
anonymously. Path arguments and id fields of bodies and filters mostly point at the objects of
that world, so requests reach the views and services instead of stopping at 404.

Two checks per response: no 5xx, and every 4xx answers a JSON object that says what was wrong.
Each example runs in a savepoint that is rolled back, so one request's writes (a deletion, a
publication) never change what the next one sees.

The number of examples per operation (each sent as every role) is bounded for CI and
reproducible (``derandomize``); a longer, random campaign raises it through the environment::

    RUBRICSTUDIO_FUZZ_EXAMPLES=200 RUBRICSTUDIO_FUZZ_RANDOM=1 \
        pytest tests/hostile/test_api_fuzz.py::test_api_fuzz -s --timeout 0
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from tests.world import build_world

ROLES = ("admin", "author", "annotator", "viewer", "anonymous")
MAX_EXAMPLES = int(os.environ.get("RUBRICSTUDIO_FUZZ_EXAMPLES", "5"))
DERANDOMIZE = os.environ.get("RUBRICSTUDIO_FUZZ_RANDOM", "") != "1"

# Which world object a path argument names, by the first segment of the API path.
PATH_OBJECTS = {
    "alerts": ("alert",),
    "annotation-queues": ("queue",),
    "datasets": ("dataset",),
    "drift-reports": ("report",),
    "judges": ("judge",),
    "pairs": ("pair",),
    "projects": ("project",),
    "reference-sets": ("reference_set",),
    "rubric-versions": ("draft_version", "version"),
    "rubrics": ("rubric",),
    "runs": ("run", "drift_baseline_run"),
}


def _world_ids(world: dict[str, Any]) -> dict[str, list[Any]]:
    """Values a body or query field of that name may take to point at a real object."""
    candidate_run = world["report"].candidate_run_id

    def pks(*keys: str) -> list[Any]:
        return [world[key].pk for key in keys]

    return {
        "project": pks("project"),
        "dataset": pks("dataset"),
        "rubric": pks("rubric"),
        "rubric_version": pks("version", "drift_candidate_version"),
        "version": pks("version", "drift_candidate_version"),
        "parent": pks("version"),
        "against": pks("version", "drift_candidate_version"),
        "baseline_version": pks("version"),
        "candidate_version": pks("drift_candidate_version"),
        "judge": pks("judge"),
        "reference_set": pks("reference_set"),
        "queue": pks("queue"),
        "pair": pks("pair"),
        "run": pks("run"),
        "baseline_run": pks("drift_baseline_run"),
        "candidate_run": [candidate_run],
        "revision": [world["draft_version"].revision],
        "annotators": [[world["users"]["annotator"].pk]],
        "username": [world["users"]["viewer"].username],
        "label": [world["label_name"], "A", "B"],
    }


def json_4xx_with_message(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refused request says why: a JSON object with a non-empty message somewhere in it."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert "json" in content_type, (
        f"{response.status_code} answered with {content_type!r}, not JSON: "
        f"{response.content[:200]!r}"
    )
    payload = json.loads(response.content)
    assert isinstance(payload, dict) and payload, f"4xx body is not a JSON object: {payload!r}"
    assert _has_message(payload), f"4xx body says nothing: {payload!r}"
    return True


def _has_message(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict):
        return any(_has_message(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_message(v) for v in value)
    return False


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """Django's WSGI application, kept on the test's database connection.

    Django closes the connection at the end of each request; inside a test that would drop the
    test transaction, so (as Django's own test client does) that signal is disconnected.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """Tracebacks of exceptions that Django turned into 500 responses."""
    caught: list[str] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        caught.append(traceback.format_exc(limit=-6))

    got_request_exception.connect(record)
    yield caught
    got_request_exception.disconnect(record)


@pytest.fixture
def fuzz_world(members: dict[str, Any], make_user: Any, project: Any) -> dict[str, Any]:
    members["superuser"] = make_user("root1", superuser=True)
    world = build_world(project, members)
    world["tokens"] = {
        role: Token.objects.create(user=members[role]).key for role in ROLES if role in members
    }
    return world


def _path_for(operation: Any) -> str:
    return operation.path.strip("/").split("/")[1]


def _point_at_world(
    case: Any, operation: Any, world: dict[str, Any], ids: dict[str, list[Any]], data: Any
) -> None:
    """Replace generated ids by ids of the world's objects, most of the time."""
    if not data.draw(st.sampled_from([True, True, True, False]), label="use world ids"):
        return
    for name in list(case.path_parameters or {}):
        if name == "project_pk":
            case.path_parameters[name] = world["project"].pk
        elif name == "id" and operation.path.startswith("/api/projects/{project_pk}/members/"):
            case.path_parameters[name] = world["viewer_username"]
        elif name == "id":
            keys = PATH_OBJECTS.get(_path_for(operation))
            if keys:
                key = data.draw(st.sampled_from(keys), label="path object")
                case.path_parameters[name] = world[key].pk
    for container in (case.query, case.body):
        if not isinstance(container, dict):
            continue
        for field in list(container):
            if field in ids:
                container[field] = data.draw(st.sampled_from(ids[field]), label=field)


def _describe(case: Any, role: str, response: Any, error: str) -> str:
    body = response.content[:300] if response is not None else b""
    status = response.status_code if response is not None else "-"
    return (
        f"{case.method} {case.formatted_path} as {role}: {status}\n"
        f"  query={case.query!r} body={str(case.body)[:300]}\n"
        f"  response={body!r}\n  {error.strip()[:1500]}"
    )


def _fuzz_operation(
    operation: Any,
    world: dict[str, Any],
    server_errors: list[str],
    failures: list[str],
    statuses: dict[str, dict[int, int]],
) -> None:
    """Send bounded, reproducible examples of one operation as every role; collect failures.

    Each generated request is sent once per role (generation costs more than a request), so
    every role meets the same inputs.
    """
    ids = _world_ids(world)
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=DERANDOMIZE,
        deadline=None,
        database=None,
        # Failures are collected, not raised, so there is nothing to shrink.
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        case = data.draw(strategy, label="case")
        _point_at_world(case, operation, world, ids, data)
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        }
        case.cookies = {}
        for role in ROLES:
            token = world["tokens"].get(role)
            headers = {"Authorization": f"Token {token}"} if token else {}
            del server_errors[:]
            response = None
            # Each request's writes are rolled back so the world stays the same for the next.
            with transaction.atomic():
                try:
                    response = case.call(headers=headers)
                    counts = statuses.setdefault(role, {})
                    counts[response.status_code] = counts.get(response.status_code, 0) + 1
                    case.validate_response(
                        response, checks=[not_a_server_error, json_4xx_with_message]
                    )
                except FailureGroup as group:
                    detail = "\n".join(server_errors) or str(group.exceptions[0])
                    failures.append(_describe(case, role, response, detail))
                transaction.set_rollback(True)

    fuzz()


@pytest.mark.slow
@pytest.mark.timeout(900)  # a loaded CI machine; an unloaded one takes about a minute
def test_api_fuzz(fuzz_world: dict[str, Any], wsgi_app: Any, server_errors: list[str]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    failures: list[str] = []
    statuses: dict[str, dict[int, int]] = {}
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        _fuzz_operation(result.ok(), fuzz_world, server_errors, failures, statuses)

    print(
        f"\nAPI fuzz: {operations} operations, up to {MAX_EXAMPLES} examples each, sent as "
        f"each of {', '.join(ROLES)}"
    )
    for role, counts in statuses.items():
        summary = ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))
        print(f"  {role}: {sum(counts.values())} requests, statuses {{{summary}}}")
    print(f"  {len(failures)} failures")
    assert operations > 50
    assert not failures, "\n\n".join(failures[:25]) + f"\n\n({len(failures)} failures)"


@pytest.mark.django_db
def test_an_api_url_no_route_matches_answers_json(client: Any, members: dict[str, Any]) -> None:
    """Found by the fuzzer: ``/api/rubrics/<not an int>/guard/`` answered Django's HTML 404."""
    client.force_login(members["admin"])
    for path in ("/api/rubrics/1.5/guard/", "/api/no-such-thing/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert path in response.json()["detail"]
    page = client.get("/p/no-such-project/")
    assert page.status_code == 404
    assert "html" in page["Content-Type"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", ['"text"', "[1, 2]", "7", "null"])
def test_a_json_body_that_is_not_an_object_is_a_400(
    api_client_for: Any, members: dict[str, Any], project: Any, body: str
) -> None:
    """Found by the fuzzer: ``POST /api/rubrics/`` with a JSON string body answered 500."""
    client = api_client_for(members["admin"])
    for method, url in (
        ("post", "/api/rubrics/"),
        ("post", "/api/drift-reports/"),
        ("post", "/api/rubrics/import/"),
        ("delete", f"/api/projects/{project.pk}/members/"),
    ):
        response = getattr(client, method)(url, data=body, content_type="application/json")
        assert response.status_code == 400, (method, url, response.status_code)
        assert "JSON object" in response.json()["detail"], (url, response.json())
