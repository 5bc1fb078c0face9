"""Deleting a whole rubric lifts the PostgreSQL guard on that rubric's published versions.

The trigger of migration 0002 refuses to delete a published version or its criteria unless
their rubric's id is listed in the transaction-local setting ``rubricstudio.purge``. Django
sends ``pre_delete`` for a rubric inside the deletion's transaction, before any row goes, so
the rubric is listed exactly for the transaction that deletes it; other rubrics stay guarded.
Deleting a project, which cascades to its rubrics, works the same way.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from apps.rubrics.models import Rubric


@receiver(pre_delete, sender=Rubric, dispatch_uid="rubrics.allow_version_purge")
def allow_version_purge(sender: Any, instance: Rubric, using: str, **kwargs: Any) -> None:
    """Add the rubric to the transaction's list of rubrics being deleted (PostgreSQL only)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('rubricstudio.purge', concat_ws(',', "
            "nullif(current_setting('rubricstudio.purge', true), ''), %s::text), true)",
            [instance.pk],
        )
