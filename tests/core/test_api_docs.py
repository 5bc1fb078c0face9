"""The OpenAPI schema is generated and served, with a browsable page."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.mark.django_db
def test_schema_lists_the_public_endpoints(client: Any) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    for path in (
        "/api/auth/token/",
        "/api/projects/",
        "/api/projects/{project_pk}/members/",
        "/api/users/",
    ):
        assert path in schema["paths"], path


@pytest.mark.django_db
def test_docs_page_renders(client: Any) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_docs_page_needs_no_cdn(client: Any) -> None:
    body = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr" not in body and "unpkg.com" not in body
    assert "/static/drf_spectacular_sidecar/" in body


API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
HTTP_VERBS = ("get", "post", "put", "patch", "delete")


def _documented_operations() -> set[tuple[str, str]]:
    """(path, VERB) of every row of docs/api.md's endpoint table."""
    operations = set()
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`/api/"):
            continue
        path = cells[0].strip("`")
        for verb in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE)\b", cells[1]):
            operations.add((path, verb))
    return operations


@pytest.mark.django_db
def test_docs_api_md_lists_exactly_the_schema_operations(client: Any) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    published = {
        (path, verb.upper())
        for path, operations in schema["paths"].items()
        for verb in operations
        if verb in HTTP_VERBS
    }
    documented = _documented_operations()
    assert not published - documented, f"add to docs/api.md: {sorted(published - documented)}"
    assert not documented - published, f"not in the schema: {sorted(documented - published)}"
