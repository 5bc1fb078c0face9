"""Who may write through the rubric API, role by role.

The route table (tests/rubrics/routes.py) covers reads and refusals of write-only routes; these
tests cover writes that share a URL with a read (list + create, detail + PATCH, versions GET +
POST) and check that allowed writes take effect.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.rubrics.models import Rubric, RubricLabel, RubricVersion

pytestmark = pytest.mark.django_db

WRITERS = ("admin", "author")
REFUSED = ("annotator", "viewer")
LINEAGE = b'{"prompt_id": "seed", "prompt": "{question} / {answer_a} / {answer_b}"}\n'


def _client(api_client_for: Any, members: dict[str, Any], role: str) -> Any:
    return api_client_for(members[role])


@pytest.mark.parametrize("role", WRITERS + REFUSED + ("outsider",))
def test_create_rubric(api_client_for, members, project, role: str) -> None:
    response = _client(api_client_for, members, role).post(
        "/api/rubrics/", {"project": project.pk, "name": f"By {role}"}, format="json"
    )
    if role in WRITERS:
        assert response.status_code == 201
        assert Rubric.objects.filter(name=f"By {role}").exists()
    else:
        assert response.status_code == (404 if role == "outsider" else 403)
        assert not Rubric.objects.filter(name=f"By {role}").exists()


@pytest.mark.parametrize("role", WRITERS + REFUSED + ("outsider",))
def test_create_draft(api_client_for, members, rubric, v1, role: str) -> None:
    response = _client(api_client_for, members, role).post(
        f"/api/rubrics/{rubric.pk}/versions/", {"parent": v1.pk}, format="json"
    )
    expected = 201 if role in WRITERS else 404 if role == "outsider" else 403
    assert response.status_code == expected
    assert rubric.versions.count() == (2 if role in WRITERS else 1)


@pytest.mark.parametrize("role", WRITERS + REFUSED + ("outsider",))
def test_patch_draft(api_client_for, members, draft, role: str) -> None:
    response = _client(api_client_for, members, role).patch(
        f"/api/rubric-versions/{draft.pk}/",
        {"revision": draft.revision, "instructions": f"by {role}"},
        format="json",
    )
    expected = 200 if role in WRITERS else 404 if role == "outsider" else 403
    assert response.status_code == expected
    saved = RubricVersion.objects.get(pk=draft.pk).instructions == f"by {role}"
    assert saved is (role in WRITERS)


@pytest.mark.parametrize("role", WRITERS + REFUSED)
def test_publish(api_client_for, members, draft, role: str) -> None:
    response = _client(api_client_for, members, role).post(
        f"/api/rubric-versions/{draft.pk}/publish/", {"message": "go"}, format="json"
    )
    assert response.status_code == (200 if role in WRITERS else 403)
    assert RubricVersion.objects.get(pk=draft.pk).is_published is (role in WRITERS)


@pytest.mark.parametrize("role", ("admin", "author", "viewer", "annotator"))
def test_promote_is_for_admins(api_client_for, members, rubric, v1, role: str) -> None:
    response = _client(api_client_for, members, role).post(
        f"/api/rubrics/{rubric.pk}/promote/", {"version": v1.pk, "label": "production"}
    )
    assert response.status_code == (200 if role == "admin" else 403)
    assert RubricLabel.objects.filter(rubric=rubric).exists() is (role == "admin")


@pytest.mark.parametrize("role", WRITERS + REFUSED + ("outsider",))
def test_import(api_client_for, members, project, role: str) -> None:
    response = _client(api_client_for, members, role).post(
        "/api/rubrics/import/",
        {"project": project.pk, "file": SimpleUploadedFile("l.jsonl", LINEAGE)},
        format="multipart",
    )
    expected = 201 if role in WRITERS else 404 if role == "outsider" else 403
    assert response.status_code == expected
    assert Rubric.objects.filter(project=project).exists() is (role in WRITERS)


def test_reads_follow_the_role(api_client_for, members, rubric, v1) -> None:
    for role, status in (("viewer", 200), ("annotator", 403), ("outsider", 403)):
        listing = _client(api_client_for, members, role).get("/api/rubrics/")
        assert listing.status_code == status, role
    viewer = _client(api_client_for, members, "viewer")
    assert [r["id"] for r in viewer.get("/api/rubrics/").json()["results"]] == [rubric.pk]
    outsider = _client(api_client_for, members, "outsider")
    assert outsider.get(f"/api/rubric-versions/{v1.pk}/").status_code == 404


def test_lists_hide_other_projects(
    api_client_for, members, rubric, other_project, make_user
) -> None:
    from apps.rubrics import services

    stranger = make_user("stranger", project=other_project, role="admin")
    services.rubric_create(actor=stranger, project=other_project, name="Hidden")
    names = [
        r["name"] for r in api_client_for(members["viewer"]).get("/api/rubrics/").json()["results"]
    ]
    assert names == [rubric.name]
