"""API responses checked against the OpenAPI schema the studio publishes.

``SchemaCheckedAPIClient`` is DRF's test client plus one assertion per response: the body of a
documented status must match the schema drf-spectacular generates for that operation
(schemathesis' ``response_schema_conformance``). Every API test that uses the ``api_client_for``
fixture gets it, so a serializer that drifts from its declared schema fails the test that
exercised it, not a client in production.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import requests
import schemathesis
from rest_framework.test import APIClient
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import response_schema_conformance


@functools.cache
def published_schema() -> Any:
    """The OpenAPI schema as ``/api/schema/`` serves it, loaded into schemathesis once."""
    from drf_spectacular.generators import SchemaGenerator

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)))


def assert_matches_schema(response: Any) -> None:
    """Fail when a JSON API response disagrees with the schema of its operation and status."""
    environ = response.wsgi_request.META
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if not path.startswith("/api/") or path.startswith("/api/schema"):
        return
    if "json" not in response.get("Content-Type", ""):
        return
    operation = published_schema().find_operation_by_path(method, path)
    if operation is None:  # an undocumented route answers 404/405 by itself
        return
    request = requests.Request(method, f"http://testserver{path}").prepare()
    checked = Response(
        status_code=response.status_code,
        headers={name.lower(): [value] for name, value in response.items()},
        content=response.content,
        request=request,
        elapsed=0.0,
        verify=True,
    )
    case = operation.Case(path_parameters=_path_parameters(operation.path, path))
    case.validate_response(checked, checks=[response_schema_conformance])


def _path_parameters(template: str, path: str) -> dict[str, str]:
    """``{"id": "12"}`` from ``/api/runs/{id}/`` and ``/api/runs/12/``."""
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
    match = re.fullmatch(pattern, path)
    return match.groupdict() if match else {}


class SchemaCheckedAPIClient(APIClient):
    """DRF's test client that checks every API response against the published schema."""

    def request(self, **kwargs: Any) -> Any:
        response = super().request(**kwargs)
        assert_matches_schema(response)
        return response
