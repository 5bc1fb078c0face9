"""The audit log is append-only at every layer we control."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.services import membership_set, project_create
from apps.core.models import AuditEvent


@pytest.mark.django_db
def test_services_record_who_did_what(make_user: Any) -> None:
    boss = make_user("boss")
    worker = make_user("worker")
    project = project_create(actor=boss, name="Audit me")
    membership_set(actor=boss, project=project, user=worker, role="author")
    membership_set(actor=boss, project=project, user=worker, role="viewer")
    events = list(AuditEvent.objects.filter(project=project).order_by("id"))
    assert [e.action for e in events] == ["project.create", "membership.set", "membership.set"]
    assert events[-1].before == {"role": "author"}
    assert events[-1].after == {"user": "worker", "role": "viewer"}
    assert all(e.actor == boss for e in events)


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted(make_user: Any) -> None:
    project = project_create(actor=make_user("boss"), name="Audit me")
    event = AuditEvent.objects.filter(project=project).first()
    assert event is not None
    event.action = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "project.create"


@pytest.mark.django_db
def test_admin_shows_the_audit_log_read_only(client: Any, make_user: Any) -> None:
    root = make_user("root", superuser=True)
    project_create(actor=root, name="Audit me")
    client.force_login(root)
    listing = client.get("/admin/core/auditevent/")
    assert listing.status_code == 200
    assert b"project.create" in listing.content
    event = AuditEvent.objects.first()
    assert client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    assert client.get("/admin/core/auditevent/add/").status_code == 403
