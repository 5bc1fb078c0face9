"""Creating and deleting whole rubrics."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.accounts.models import Project
from apps.core.services import actor_or_none, audit_event_record
from apps.rubrics.models import (
    Rubric,
)

# --- rubrics ---------------------------------------------------------------------------------


def _unique_slug(project: Project, name: str) -> str:
    base = slugify(name)[:70] or "rubric"
    slug, n = base, 2
    while Rubric.objects.filter(project=project, slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def unique_name(project: Project, name: str) -> str:
    candidate, n = name, 2
    while Rubric.objects.filter(project=project, name=candidate).exists():
        candidate, n = f"{name} ({n})", n + 1
    return candidate


@transaction.atomic
def rubric_create(
    *, actor: Any, project: Project, name: str, description: str = "", slug: str = ""
) -> Rubric:
    """Create an empty rubric; its content comes in versions."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A rubric needs a name."]})
    if Rubric.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": [f"This project already has a rubric named {name!r}."]})
    if slug and Rubric.objects.filter(project=project, slug=slug).exists():
        raise ValidationError({"slug": [f"The slug {slug!r} is taken in this project."]})
    rubric = Rubric.objects.create(
        project=project,
        name=name,
        slug=slug or _unique_slug(project, name),
        description=description,
        created_by=actor_or_none(actor),
    )
    audit_event_record(
        actor=actor, action="rubric.create", obj=rubric, after={"name": name, "slug": rubric.slug}
    )
    return rubric


@transaction.atomic
def rubric_delete(*, actor: Any, rubric: Rubric) -> None:
    """Delete a whole rubric with its versions (refused while runs or reports use them).

    The database guard lets this rubric's versions go within the deleting transaction (see
    ``signals``); on their own, published versions cannot be deleted.
    """
    audit_event_record(
        actor=actor,
        action="rubric.delete",
        obj=rubric,
        before={"name": rubric.name, "versions": rubric.versions.count()},
    )
    rubric.delete()
