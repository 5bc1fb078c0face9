"""Creating a dataset."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Project
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import Dataset


@transaction.atomic
def dataset_create(
    *, actor: Any, project: Project, name: str, description: str = "", source: str = ""
) -> Dataset:
    """Create an empty dataset in ``project``; names are unique per project."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A dataset needs a name."]})
    if Dataset.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": [f"This project already has a dataset named {name!r}."]})
    dataset = Dataset.objects.create(
        project=project,
        name=name,
        description=description,
        source=source,
        created_by=actor_or_none(actor),
    )
    audit_event_record(actor=actor, action="dataset.create", obj=dataset, after={"name": name})
    return dataset
