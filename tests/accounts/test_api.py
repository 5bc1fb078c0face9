"""Projects, members and users through the API."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Membership
from apps.core.models import AuditEvent


@pytest.mark.django_db
def test_creating_a_project_makes_the_creator_its_admin(
    api_client_for: Any, make_user: Any
) -> None:
    alice = make_user("alice")
    response = api_client_for(alice).post("/api/projects/", {"name": "Judges"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "judges"
    assert Membership.objects.get(project_id=body["id"], user=alice).role == "admin"


@pytest.mark.django_db
def test_project_list_shows_only_my_projects(
    api_client_for: Any, members: dict[str, Any], other_project: Any
) -> None:
    body = api_client_for(members["viewer"]).get("/api/projects/").json()
    assert [p["slug"] for p in body["results"]] == ["alpha"]
    assert (
        api_client_for(members["viewer"]).get(f"/api/projects/{other_project.pk}/").status_code
        == 404
    )


@pytest.mark.django_db
def test_admin_manages_members_and_changes_are_audited(
    api_client_for: Any, members: dict[str, Any], project: Any, make_user: Any
) -> None:
    newcomer = make_user("newcomer")
    api = api_client_for(members["admin"])
    url = f"/api/projects/{project.pk}/members/"
    assert (
        api.post(url, {"username": "newcomer", "role": "annotator"}, format="json").status_code
        == 201
    )
    assert (
        api.post(url, {"username": "newcomer", "role": "author"}, format="json").status_code == 201
    )
    assert Membership.objects.get(project=project, user=newcomer).role == "author"
    listing = api.get(url).json()
    assert {"username": "newcomer", "role": "author"}.items() <= next(
        m for m in listing if m["username"] == "newcomer"
    ).items()
    assert (
        api.generic(
            "DELETE", url, '{"username": "newcomer"}', content_type="application/json"
        ).status_code
        == 204
    )
    assert not Membership.objects.filter(project=project, user=newcomer).exists()
    actions = list(AuditEvent.objects.filter(project=project).values_list("action", flat=True))
    assert actions.count("membership.set") == 2 and "membership.remove" in actions


@pytest.mark.django_db
def test_members_api_rejects_an_unknown_role_with_a_json_error(
    api_client_for: Any, members: dict[str, Any], project: Any
) -> None:
    response = api_client_for(members["admin"]).post(
        f"/api/projects/{project.pk}/members/",
        {"username": "viewer1", "role": "owner"},
        format="json",
    )
    assert response.status_code == 400
    assert "role" in response.json()


@pytest.mark.django_db
def test_only_site_admins_create_users(
    api_client_for: Any, members: dict[str, Any], make_user: Any
) -> None:
    body = {"username": "fresh", "password": "long enough pw"}
    assert (
        api_client_for(members["admin"]).post("/api/users/", body, format="json").status_code == 403
    )
    root = make_user("root", superuser=True)
    response = api_client_for(root).post("/api/users/", body, format="json")
    assert response.status_code == 201
    assert "password" not in response.json()
