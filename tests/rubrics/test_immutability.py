"""Published versions are immutable at every layer: models, database, admin, API, pages."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import AdminSite
from django.db import DatabaseError, connection, transaction
from django.db.models import RestrictedError
from django.db.models.deletion import Collector
from django.test import RequestFactory

from apps.rubrics import services
from apps.rubrics.admin import CriterionInline, RubricVersionAdmin
from apps.rubrics.models import Criterion, PublishedVersionError, Rubric, RubricVersion

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the trigger guard exists on PostgreSQL only; other databases rely on the model guard",
)


# --- model layer --------------------------------------------------------------------------------


def test_model_refuses_saving_a_published_version(v1) -> None:
    v1.instructions = "changed"
    with pytest.raises(PublishedVersionError):
        v1.save()
    with pytest.raises(PublishedVersionError):
        v1.delete()
    assert RubricVersion.objects.get(pk=v1.pk).instructions != "changed"


def test_queryset_refuses_bulk_writes_to_published_versions(v1, draft) -> None:
    with pytest.raises(PublishedVersionError):
        RubricVersion.objects.filter(rubric=v1.rubric).update(message="bulk")
    with pytest.raises(PublishedVersionError):
        RubricVersion.objects.filter(pk=v1.pk).delete()
    # Drafts stay writable in bulk.
    assert RubricVersion.objects.filter(pk=draft.pk).update(message="draft note") == 1


def test_model_refuses_criterion_writes_of_published_versions(v1) -> None:
    criterion = v1.criteria.first()
    criterion.title = "changed"
    with pytest.raises(PublishedVersionError):
        criterion.save()
    with pytest.raises(PublishedVersionError):
        criterion.delete()
    with pytest.raises(PublishedVersionError):
        Criterion.objects.filter(version=v1).update(weight=9)
    with pytest.raises(PublishedVersionError):
        Criterion.objects.filter(version=v1).delete()
    with pytest.raises(PublishedVersionError):
        Criterion.objects.create(version=v1, position=9, key="new", title="New")
    with pytest.raises(PublishedVersionError):
        Criterion.objects.bulk_create([Criterion(version=v1, position=9, key="new", title="New")])
    assert v1.criteria.count() == 3


def test_deleting_a_user_keeps_their_published_versions(v1, author) -> None:
    author.delete()
    v1.refresh_from_db()
    assert v1.author is None
    assert v1.is_published


def test_a_whole_rubric_can_be_deleted_on_purpose(rubric, v1, draft, members) -> None:
    services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1)
    services.rubric_delete(actor=members["admin"], rubric=rubric)
    assert not Rubric.objects.filter(pk=rubric.pk).exists()
    assert not Criterion.objects.filter(version__rubric_id=rubric.pk).exists()


def test_deleting_a_project_takes_its_rubrics_along(project, v1, draft, members) -> None:
    services.rubric_label_move(actor=members["admin"], rubric=v1.rubric, version=v1)
    project.delete()
    assert not RubricVersion.objects.filter(pk__in=[v1.pk, draft.pk]).exists()


def test_a_parent_version_cannot_be_deleted_alone(v1, draft) -> None:
    # Past the model guard on purpose: the foreign key from its child still holds the version.
    with pytest.raises(RestrictedError):
        Collector(using="default").collect([v1])


# --- database layer (PostgreSQL trigger) ----------------------------------------------------------


@postgres_only
def test_the_purge_ends_with_the_rubric_deletion(project, v1, author, members) -> None:
    other = services.rubric_create(actor=author, project=project, name="Other")
    kept = services.rubric_version_publish(
        actor=author,
        version=services.rubric_version_create(
            actor=author, rubric=other, criteria=[{"title": "A"}]
        ),
        message="One.",
    )
    services.rubric_delete(actor=members["admin"], rubric=v1.rubric)
    with (
        pytest.raises(DatabaseError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM rubrics_criterion WHERE version_id = %s", [kept.pk])
    assert RubricVersion.objects.filter(pk=kept.pk).exists()


@postgres_only
def test_raw_sql_update_of_a_published_version_raises(v1) -> None:
    with (
        pytest.raises(DatabaseError, match="published"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE rubrics_rubricversion SET instructions = 'sneaky' WHERE id = %s", [v1.pk]
        )
    assert RubricVersion.objects.get(pk=v1.pk).instructions != "sneaky"


@postgres_only
def test_raw_sql_writes_to_criteria_of_a_published_version_raise(v1) -> None:
    criterion = v1.criteria.first()
    statements = [
        ("UPDATE rubrics_criterion SET weight = 99 WHERE id = %s", [criterion.pk]),
        ("DELETE FROM rubrics_criterion WHERE id = %s", [criterion.pk]),
        (
            "INSERT INTO rubrics_criterion (version_id, position, key, title, description, "
            "weight, kind) VALUES (%s, 9, 'x', 'x', '', 1, 'principle')",
            [v1.pk],
        ),
        ("DELETE FROM rubrics_rubricversion WHERE id = %s", [v1.pk]),
    ]
    for sql, params in statements:
        with (
            pytest.raises(DatabaseError, match=r"published|immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
    assert v1.criteria.count() == 3
    assert v1.criteria.get(pk=criterion.pk).weight == criterion.weight


@postgres_only
def test_raw_sql_on_drafts_is_allowed(draft) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rubrics_rubricversion SET instructions = 'fine' WHERE id = %s", [draft.pk]
        )
        cursor.execute("UPDATE rubrics_criterion SET weight = 7 WHERE version_id = %s", [draft.pk])
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "fine"
    assert {c.weight for c in draft.criteria.all()} == {7}


# --- admin, API, pages ----------------------------------------------------------------------------


def test_admin_shows_published_versions_read_only(v1, draft, members, make_user) -> None:
    request = RequestFactory().get("/admin/")
    request.user = make_user("root", superuser=True)
    admin = RubricVersionAdmin(RubricVersion, AdminSite())
    inline = CriterionInline(RubricVersion, AdminSite())
    assert not admin.has_change_permission(request, v1)
    assert not admin.has_delete_permission(request, v1)
    assert not inline.has_change_permission(request, v1)
    assert not inline.has_add_permission(request, v1)
    assert admin.has_change_permission(request, draft)
    assert inline.has_change_permission(request, draft)


def test_admin_change_page_of_a_published_version_has_no_save(client, v1, make_user) -> None:
    client.force_login(make_user("root", superuser=True))
    response = client.get(f"/admin/rubrics/rubricversion/{v1.pk}/change/")
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    posted = client.post(f"/admin/rubrics/rubricversion/{v1.pk}/change/", {"message": "x"})
    assert posted.status_code == 403


def test_api_patch_of_a_published_version_is_a_conflict(api_client_for, v1, author) -> None:
    response = api_client_for(author).patch(
        f"/api/rubric-versions/{v1.pk}/",
        {"revision": v1.revision, "instructions": "x"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "published"
    publish = api_client_for(author).post(
        f"/api/rubric-versions/{v1.pk}/publish/", {"message": "again"}, format="json"
    )
    assert publish.status_code == 409


def test_editor_of_a_published_version_redirects_to_the_read_only_page(client, v1, author) -> None:
    client.force_login(author)
    base = f"/p/{v1.rubric.project.slug}/rubrics/{v1.rubric_id}/v/{v1.pk}/"
    response = client.get(base + "edit/")
    assert response.status_code == 302
    assert response["Location"] == base
    saved = client.post(
        base + "edit/field/", {"instructions": "x", "revision": v1.revision}, HTTP_HX_REQUEST="true"
    )
    assert saved.status_code == 409
    assert b"was published meanwhile" in saved.content
