"""The site admin is for superusers only."""

from typing import Any

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("superuser,expected", [(False, 302), (True, 200)])
def test_site_admin_needs_a_superuser(
    client: Any, make_user: Any, superuser: bool, expected: int
) -> None:
    client.force_login(make_user("someone", superuser=superuser))
    assert client.get("/admin/").status_code == expected


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_admin_login(client: Any) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
