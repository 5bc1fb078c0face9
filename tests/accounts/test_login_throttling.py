"""Failed sign-ins are throttled per username and address, on the page and the token endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings


@pytest.mark.django_db
@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_login_page_blocks_after_repeated_failures(client: Any, make_user: Any) -> None:
    make_user("victim")
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "victim", "password": "nope"})
        assert response.status_code == 200
    blocked = client.post(
        "/accounts/login/", {"username": "victim", "password": "correct horse battery"}
    )
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins" in blocked.content


@pytest.mark.django_db
@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_token_endpoint_is_throttled_and_a_token_can_be_revoked(
    client: Any, make_user: Any
) -> None:
    from rest_framework.test import APIClient

    make_user("victim")
    api = APIClient()
    good = api.post(
        "/api/auth/token/",
        {"username": "victim", "password": "correct horse battery"},
        format="json",
    )
    assert good.status_code == 200
    token = good.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/projects/").status_code == 200
    assert api.delete("/api/auth/token/").status_code == 204
    assert api.get("/api/projects/").status_code == 401

    anon = APIClient()
    for _ in range(3):
        bad = anon.post(
            "/api/auth/token/", {"username": "victim", "password": "nope"}, format="json"
        )
        assert bad.status_code == 400
        assert "detail" in bad.json()
    blocked = anon.post(
        "/api/auth/token/",
        {"username": "victim", "password": "correct horse battery"},
        format="json",
    )
    assert blocked.status_code == 429
