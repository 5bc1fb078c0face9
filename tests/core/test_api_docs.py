"""The OpenAPI schema is generated and served, with a browsable page."""

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
