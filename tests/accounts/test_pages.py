"""The admin screens: members (add, change a role, remove), project creation, the login page's
demo note; every change audited, every refusal naming its field."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.accounts.models import Membership, Project, Role
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _members_url(project: Project, name: str = "list", **kwargs: Any) -> str:
    return reverse(f"members:{name}", kwargs={"project": project.slug, **kwargs})


def test_admin_adds_an_existing_user_changes_the_role_and_removes_them(
    client: Any, members: dict[str, Any], project: Project, make_user: Any
) -> None:
    newcomer = make_user("newcomer")
    client.force_login(members["admin"])
    page = client.get(_members_url(project)).content.decode()
    assert "viewer1" in page and "Add a member" in page
    assert 'name="password"' not in page  # only site admins create accounts

    response = client.post(_members_url(project, "add"), {"username": "newcomer", "role": "viewer"})
    assert response.status_code == 302
    membership = Membership.objects.get(project=project, user=newcomer)
    assert membership.role == Role.VIEWER

    change = _members_url(project, "change", member=membership.pk)
    assert client.post(change, {"action": "role", "role": "author"}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.AUTHOR

    assert client.post(change, {"action": "remove"}).status_code == 302
    assert not Membership.objects.filter(project=project, user=newcomer).exists()
    actions = list(AuditEvent.objects.filter(project=project).values_list("action", flat=True))
    assert actions.count("membership.set") == 2 and actions.count("membership.remove") == 1


def test_adding_an_unknown_user_names_the_field(
    client: Any, members: dict[str, Any], project: Project
) -> None:
    client.force_login(members["admin"])
    response = client.post(_members_url(project, "add"), {"username": "nobody", "role": "viewer"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Username: No user is named &#x27;nobody&#x27;" in body
    assert not Membership.objects.filter(project=project, user__username="nobody").exists()


def test_a_site_admin_creates_the_account_when_giving_a_password(
    client: Any, members: dict[str, Any], project: Project, make_user: Any
) -> None:
    root = make_user("root1", superuser=True)
    client.force_login(root)
    assert 'name="password"' in client.get(_members_url(project)).content.decode()
    missing = client.post(_members_url(project, "add"), {"username": "fresh", "role": "annotator"})
    assert missing.status_code == 400
    assert "Password: No user is named" in missing.content.decode()
    weak = client.post(
        _members_url(project, "add"), {"username": "fresh", "role": "annotator", "password": "1"}
    )
    assert weak.status_code == 400 and "Password:" in weak.content.decode()
    ok = client.post(
        _members_url(project, "add"),
        {"username": "fresh", "role": "annotator", "password": "a long enough passphrase"},
    )
    assert ok.status_code == 302
    membership = Membership.objects.get(project=project, user__username="fresh")
    assert membership.role == Role.ANNOTATOR
    assert membership.user.check_password("a long enough passphrase")
    assert AuditEvent.objects.filter(action="user.create", object_repr="fresh").exists()


def test_the_last_admin_can_be_neither_demoted_nor_removed(
    client: Any, members: dict[str, Any], project: Project
) -> None:
    admin = Membership.objects.get(project=project, user=members["admin"])
    client.force_login(members["admin"])
    change = _members_url(project, "change", member=admin.pk)
    demoted = client.post(change, {"action": "role", "role": "viewer"})
    assert demoted.status_code == 400
    assert "last admin of Alpha" in demoted.content.decode()
    assert client.post(change, {"action": "remove"}).status_code == 400
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_an_unknown_role_is_refused(client: Any, members: dict[str, Any], project: Project) -> None:
    viewer = Membership.objects.get(project=project, user=members["viewer"])
    client.force_login(members["admin"])
    response = client.post(
        _members_url(project, "change", member=viewer.pk), {"action": "role", "role": "owner"}
    )
    assert response.status_code == 400
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER


def test_a_member_of_another_project_cannot_be_changed_through_this_one(
    client: Any, members: dict[str, Any], project: Project, other_project: Project, make_user: Any
) -> None:
    stranger = make_user("stranger", project=other_project, role=Role.VIEWER)
    theirs = Membership.objects.get(project=other_project, user=stranger)
    client.force_login(members["admin"])
    response = client.post(_members_url(project, "change", member=theirs.pk), {"action": "remove"})
    assert response.status_code == 404
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_navigation_shows_members_and_api_docs_to_admins_only(
    client: Any, members: dict[str, Any], project: Project
) -> None:
    client.force_login(members["admin"])
    page = client.get(reverse("dashboard", kwargs={"project": project.slug})).content.decode()
    assert f'href="{_members_url(project)}"' in page and 'href="/api/docs/"' in page
    client.force_login(members["author"])
    page = client.get(reverse("dashboard", kwargs={"project": project.slug})).content.decode()
    assert f'href="{_members_url(project)}"' not in page


def test_any_user_creates_a_project_and_becomes_its_admin(
    client: Any, members: dict[str, Any], project: Project
) -> None:
    client.force_login(members["viewer"])
    response = client.post(reverse("project_create"), {"name": "Gamma <b>", "description": ""})
    assert response.status_code == 302
    created = Project.objects.get(name="Gamma <b>")
    assert created.slug == "gamma-b"
    assert response["Location"] == _members_url(created)
    assert Membership.objects.get(project=created, user=members["viewer"]).role == Role.ADMIN
    assert AuditEvent.objects.filter(action="project.create", project=created).exists()
    home = client.get(reverse("home")).content.decode()
    assert "Gamma &lt;b&gt;" in home and "<b>" not in home.split("Gamma")[1][:10]


def test_project_creation_refuses_a_taken_address_and_a_missing_name(
    client: Any, members: dict[str, Any], project: Project
) -> None:
    client.force_login(members["viewer"])
    taken = client.post(reverse("project_create"), {"name": "Another", "slug": project.slug})
    assert taken.status_code == 400
    assert "Slug: The address &#x27;alpha&#x27; is taken" in taken.content.decode()
    nameless = client.post(reverse("project_create"), {"name": ""})
    assert nameless.status_code == 400 and "Name: This field is required." in (
        nameless.content.decode()
    )
    assert Project.objects.count() == 1


def test_login_page_says_where_the_demo_passwords_are(client: Any, db: None) -> None:
    assert "demo --new-passwords" not in client.get(reverse("accounts:login")).content.decode()
    Project.objects.create(name="Demo", slug="demo")
    page = client.get(reverse("accounts:login")).content.decode()
    assert "demo --new-passwords" in page
    assert "<code>viewer</code>" in page and "manage.py demo" in page


def test_api_index_lists_the_collections(client: Any, db: None) -> None:
    response = client.get("/api/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["docs"].endswith("/api/docs/") and body["schema"].endswith("/api/schema/")
    assert body["endpoints"]["project-list"].endswith("/api/projects/")
    assert body["endpoints"]["run-list"].endswith("/api/runs/")
    assert "api-root" not in body["endpoints"]


def test_an_admin_who_steps_down_lands_on_the_project_list(
    client: Any, members: dict[str, Any], project: Project, make_user: Any
) -> None:
    make_user("second-admin", project=project, role=Role.ADMIN)
    own = Membership.objects.get(project=project, user=members["admin"])
    client.force_login(members["admin"])
    response = client.post(
        _members_url(project, "change", member=own.pk), {"action": "role", "role": "viewer"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    own.refresh_from_db()
    assert own.role == Role.VIEWER
