"""Writes about users, projects and memberships; each one audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.accounts.models import Membership, Project, Role
from apps.core import egress
from apps.core.services import audit_event_record


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def webhook_url_errors(webhook_url: str) -> dict[str, list[str]]:
    """Field errors of a project's webhook URL under the operator's egress policy."""
    problem = egress.webhook_url_problem(webhook_url) if webhook_url else None
    return {"webhook_url": [problem]} if problem else {}


@transaction.atomic
def project_create(
    *, actor: Any, name: str, description: str = "", slug: str = "", webhook_url: str = ""
) -> Project:
    """Create a project; its creator becomes its first admin. The webhook URL must be allowed
    by the operator's egress policy."""
    errors = webhook_url_errors(webhook_url)
    if errors:
        raise ValidationError(errors)
    project = Project.objects.create(
        name=name,
        slug=slug or _unique_slug(name),
        description=description,
        webhook_url=webhook_url,
    )
    if actor is not None and actor.is_authenticated:
        Membership.objects.create(project=project, user=actor, role=Role.ADMIN)
    audit_event_record(
        actor=actor,
        action="project.create",
        obj=project,
        after={"name": name, "slug": project.slug, "webhook_url": webhook_url},
    )
    return project


PROJECT_AUDITED_FIELDS = ("name", "slug", "description", "webhook_url")


@transaction.atomic
def project_update(*, actor: Any, project: Project, **changes: Any) -> Project:
    """Change a project's fields (the API, the site admin); a new webhook URL is checked like
    a new project's, and the change is audited with the state before and after."""
    unknown = set(changes) - set(PROJECT_AUDITED_FIELDS)
    if unknown:
        raise ValidationError({field: ["This field cannot be changed."] for field in unknown})
    if "webhook_url" in changes:
        errors = webhook_url_errors(changes["webhook_url"] or "")
        if errors:
            raise ValidationError(errors)
    stored = Project.objects.filter(pk=project.pk).values(*PROJECT_AUDITED_FIELDS).first() or {}
    for field, value in changes.items():
        setattr(project, field, value)
    project.full_clean(validate_unique=True)
    project.save()
    after = {field: getattr(project, field) for field in PROJECT_AUDITED_FIELDS}
    changed = {f for f in PROJECT_AUDITED_FIELDS if stored.get(f) != after[f]}
    if changed:
        audit_event_record(
            actor=actor,
            action="project.webhook_change" if "webhook_url" in changed else "project.change",
            obj=project,
            before={f: stored.get(f) for f in sorted(changed)},
            after={f: after[f] for f in sorted(changed)},
        )
    return project


@transaction.atomic
def membership_set(*, actor: Any, project: Project, user: User, role: str) -> Membership:
    """Give ``user`` the ``role`` in ``project`` (adding or changing the membership)."""
    role = Role(role)
    existing = Membership.objects.select_for_update().filter(project=project, user=user).first()
    before = {"role": existing.role} if existing else None
    if existing:
        existing.role = role
        existing.save(update_fields=["role", "updated_at"])
        membership = existing
    else:
        membership = Membership.objects.create(project=project, user=user, role=role)
    audit_event_record(
        actor=actor,
        action="membership.set",
        obj=membership,
        project=project,
        before=before,
        after={"user": user.get_username(), "role": role.value},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Any, project: Project, user: User) -> None:
    """Remove ``user`` from ``project``."""
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None:
        return
    audit_event_record(
        actor=actor,
        action="membership.remove",
        obj=membership,
        project=project,
        before={"user": user.get_username(), "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def user_create(*, actor: Any, username: str, password: str, email: str = "") -> User:
    """Create a user account (site administration)."""
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    audit_event_record(actor=actor, action="user.create", obj=user, after={"username": username})
    return user
