"""Importing rubric files (YAML/JSON, one version or a whole lineage) into a project."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Project
from apps.core.services import audit_event_record
from apps.rubrics import portable
from apps.rubrics.models import (
    Rubric,
    RubricVersion,
    VersionStatus,
)
from apps.rubrics.services.rubrics import rubric_create, unique_name
from apps.rubrics.services.versions import (
    criteria_dicts,
    rubric_version_create,
    rubric_version_publish,
)

# --- import ----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import made: the rubric (new or existing) and its new versions, in order."""

    rubric: Rubric
    versions: list[RubricVersion] = field(default_factory=list)
    created_rubric: bool = False


class ImportFailed(Exception):
    """A rubric file that imports nothing; ``errors`` are ``{line, field, message}`` dicts."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = [dict(e) for e in errors]
        super().__init__("; ".join(str(e.get("message", "")) for e in self.errors))


def _name_from_filename(filename: str) -> str:
    stem = PurePath(filename).name.split(".", 1)[0]
    return " ".join(stem.replace("_", " ").split()) or "Imported rubric"


def _issues_from_validation(error: ValidationError) -> list[dict[str, Any]]:
    if not hasattr(error, "error_dict"):
        return [{"line": None, "field": None, "message": m} for m in error.messages]
    return [
        {"line": None, "field": name if name != "__all__" else None, "message": message}
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def _import_target(
    *,
    actor: Any,
    project: Project,
    rubric: Rubric | None,
    name: str | None,
    fallback: str,
    description: str = "",
) -> tuple[Rubric, bool]:
    """The rubric to add versions to: the one named, or a new one."""
    if rubric is not None:
        return rubric, False
    if name:
        # An explicit name that is taken is a mistake worth reporting, not renaming.
        return rubric_create(actor=actor, project=project, name=name, description=description), True
    unique = unique_name(project, fallback[:200].strip() or "Imported rubric")
    return (
        rubric_create(actor=actor, project=project, name=unique, description=description),
        True,
    )


def _import_lineage(
    *,
    actor: Any,
    target: Rubric,
    entries: Sequence[portable.LineageEntry],
    filename: str,
) -> list[RubricVersion]:
    """One published version per lineage row, parents first and linked as in the file."""
    by_prompt: dict[str, RubricVersion] = {}
    created: list[RubricVersion] = []
    for entry in entries:
        parent = by_prompt.get(entry.parent_id) if entry.parent_id is not None else None
        version = rubric_version_create(
            actor=actor, rubric=target, parent=parent, template=entry.template, criteria=[]
        )
        step = f", generation step {entry.gen_step}" if entry.gen_step is not None else ""
        note = ""
        if not entry.parent_in_file:
            note = (
                f"; its declared parent {entry.declared_parent_id!r} is not in the file, so it "
                "hangs from the file's root"
            )
        message = (
            f"Imported prompt {entry.prompt_id!r} (line {entry.line}{step}) from {filename}{note}."
        )
        created.append(rubric_version_publish(actor=actor, version=version, message=message))
        by_prompt[entry.prompt_id] = version
    return created


def rubric_import(
    *,
    actor: Any,
    project: Project,
    filename: str,
    data: bytes,
    name: str | None = None,
    rubric: Rubric | None = None,
    publish: bool = False,
) -> ImportResult:
    """Import a rubric file: all of it in one transaction, or nothing.

    * our JSON/YAML export: one version, a draft unless the file says published (or
      ``publish``), forked from the rubric's newest published version when added to an
      existing rubric;
    * a RIPD JSON Lines lineage: each row a published version whose template is the whole judge
      prompt, parents preserved.

    Without ``rubric`` a new rubric is made, named ``name`` or after the file. Raises
    ``ImportFailed`` with ``{line, field, message}`` errors; nothing is written then.
    """
    if rubric is not None and rubric.project_id != project.pk:
        raise ImportFailed([{"line": None, "field": "rubric", "message": "No such rubric."}])
    fmt = portable.sniff_format(data, filename)
    entries: list[portable.LineageEntry] = []
    document: portable.PortableRubric | None = None
    try:
        if fmt == "ripd":
            entries = portable.load_ripd_lineage(data)
        else:
            document = portable.import_rubric(data, fmt)
    except portable.RubricFileError as exc:
        raise ImportFailed(exc.as_dicts()) from None
    try:
        with transaction.atomic():
            if document is None:
                target, created_rubric = _import_target(
                    actor=actor,
                    project=project,
                    rubric=rubric,
                    name=name,
                    fallback=_name_from_filename(filename),
                )
                versions = _import_lineage(
                    actor=actor, target=target, entries=entries, filename=filename
                )
            else:
                target, created_rubric = _import_target(
                    actor=actor,
                    project=project,
                    rubric=rubric,
                    name=name,
                    fallback=document.name,
                    description=document.description,
                )
                versions = [
                    _import_document(
                        actor=actor,
                        target=target,
                        document=document,
                        filename=filename,
                        publish=publish,
                    )
                ]
            audit_event_record(
                actor=actor,
                action="rubric.import",
                obj=target,
                after={
                    "file": filename,
                    "format": fmt,
                    "created_rubric": created_rubric,
                    "versions": [v.number for v in versions],
                },
            )
    except ValidationError as exc:
        raise ImportFailed(_issues_from_validation(exc)) from None
    return ImportResult(rubric=target, versions=versions, created_rubric=created_rubric)


def _import_document(
    *,
    actor: Any,
    target: Rubric,
    document: portable.PortableRubric,
    filename: str,
    publish: bool,
) -> RubricVersion:
    spec = document.spec
    version = rubric_version_create(
        actor=actor,
        rubric=target,
        instructions=spec.instructions,
        template=spec.template,
        output_format=spec.output_format,
        criteria=criteria_dicts(spec.criteria),
        message=document.message,
    )
    if publish or document.status == VersionStatus.PUBLISHED:
        message = document.message.strip() or f"Imported from {filename}."
        version = rubric_version_publish(actor=actor, version=version, message=message)
    return version
