"""Writes on rubrics: drafts, criteria, publishing, labels, import. Each one is one transaction.

Every write to a draft carries the ``revision`` the client read. The version row is locked,
the revision compared, and a stale write refused with ``StaleRevision`` (HTTP 409) carrying the
current content, so nothing the client typed is lost and nothing another author saved is
overwritten. A successful write bumps the revision.

Published versions are immutable: the services refuse (``VersionNotDraft``, 409), the models
refuse (``PublishedVersionError``) and on PostgreSQL a trigger refuses (migration 0002).

The package is split by concern: ``validation`` (field checks and the 409 errors),
``rubrics`` (create and delete), ``versions`` (drafts, criteria edits, fork, publish),
``labels`` (moving a label, the promotion decision) and ``files`` (importing rubric files).
Callers import the package: every public name is re-exported here.
"""

from apps.rubrics.services.files import ImportFailed, ImportResult, rubric_import
from apps.rubrics.services.labels import rubric_label_move
from apps.rubrics.services.rubrics import rubric_create, rubric_delete
from apps.rubrics.services.validation import (
    DEFAULT_LABEL,
    OUTPUT_FORMATS,
    UNSET,
    StaleRevision,
    VersionNotDraft,
    check_errors,
    criterion_field_errors,
    spec_errors,
    template_errors,
)
from apps.rubrics.services.versions import (
    criteria_reorder,
    criterion_add,
    criterion_move,
    criterion_remove,
    criterion_update,
    default_parent,
    rubric_version_create,
    rubric_version_fork,
    rubric_version_publish,
    rubric_version_update,
)

__all__ = [
    "DEFAULT_LABEL",
    "OUTPUT_FORMATS",
    "UNSET",
    "ImportFailed",
    "ImportResult",
    "StaleRevision",
    "VersionNotDraft",
    "check_errors",
    "criteria_reorder",
    "criterion_add",
    "criterion_field_errors",
    "criterion_move",
    "criterion_remove",
    "criterion_update",
    "default_parent",
    "rubric_create",
    "rubric_delete",
    "rubric_import",
    "rubric_label_move",
    "rubric_version_create",
    "rubric_version_fork",
    "rubric_version_publish",
    "rubric_version_update",
    "spec_errors",
    "template_errors",
]
