"""Drafts: creating, forking and editing versions and their criteria, and publishing them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.core.services import actor_or_none, audit_event_record
from apps.rubrics import hooks
from apps.rubrics import spec as spec_module
from apps.rubrics.models import (
    Criterion,
    Rubric,
    RubricVersion,
    VersionStatus,
)
from apps.rubrics.services.validation import (
    UNSET,
    StaleRevision,
    VersionNotDraft,
    criterion_field_errors,
    spec_errors,
    version_field_errors,
)
from apps.rubrics.spec import (
    CRITERION_KEY_MAX,
    CRITERION_KEY_RE,
    CriterionSpec,
    RubricSpec,
)

# --- drafts ----------------------------------------------------------------------------------


def _unique_key(wanted: str, taken: set[str]) -> str:
    base = slugify(wanted)[: CRITERION_KEY_MAX - 4].strip("-") or "criterion"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def _next_number(rubric: Rubric) -> int:
    last = rubric.versions.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


def default_parent(rubric: Rubric) -> RubricVersion | None:
    """Where a new draft forks from when the caller names no parent: the newest published."""
    return rubric.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()


def _normalise_criteria(
    items: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Clean a list of criterion dicts (API or file input); errors name the criterion."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    taken: set[str] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            errors.setdefault("criteria", []).append(f"criterion {number}: expected an object.")
            continue
        fields = {
            "title": item.get("title", ""),
            "description": item.get("description", ""),
            "weight": item.get("weight", 1.0),
            "kind": item.get("kind", "principle"),
            "check": item.get("check"),
        }
        clean, problems = criterion_field_errors(fields)
        for name, messages in problems.items():
            errors.setdefault("criteria", []).extend(
                f"criterion {number}, {name}: {m}" for m in messages
            )
        raw_key = str(item.get("key") or "").strip()
        if raw_key:
            if raw_key in taken:
                errors.setdefault("criteria", []).append(
                    f"criterion {number}, key: {raw_key!r} is used twice."
                )
            if not CRITERION_KEY_RE.match(raw_key) or len(raw_key) > CRITERION_KEY_MAX:
                errors.setdefault("criteria", []).append(
                    f"criterion {number}, key: use at most {CRITERION_KEY_MAX} letters, digits, "
                    "'-' and '_'."
                )
            taken.add(raw_key)
            clean["key"] = raw_key
        else:
            clean["key"] = None
        cleaned.append(clean)
    # Keys are assigned after explicit ones are known, so a generated key never takes one the
    # caller chose for a later criterion.
    for clean in cleaned:
        if clean["key"] is None:
            clean["key"] = _unique_key(clean["title"] or "criterion", taken)
    return cleaned, errors


def _write_criteria(version: RubricVersion, cleaned: Sequence[Mapping[str, Any]]) -> None:
    """Make the version's criteria exactly ``cleaned`` (same key keeps its row and id)."""
    existing = {c.key: c for c in version.criteria.all()}
    wanted = {c["key"] for c in cleaned}
    for key, criterion in existing.items():
        if key not in wanted:
            criterion.delete()
    for position, item in enumerate(cleaned):
        criterion = existing.get(item["key"]) or Criterion(version=version, key=item["key"])
        criterion.position = position
        criterion.title = item["title"]
        criterion.description = item["description"]
        criterion.weight = item["weight"]
        criterion.kind = item["kind"]
        criterion.machine_check = item["check"]
        criterion.save()


def criteria_dicts(spec_criteria: Iterable[CriterionSpec]) -> list[dict[str, Any]]:
    return [
        {
            "key": c.key,
            "title": c.title,
            "description": c.description,
            "weight": c.weight,
            "kind": c.kind,
            "check": c.check,
        }
        for c in spec_criteria
    ]


@transaction.atomic
def rubric_version_create(
    *,
    actor: Any,
    rubric: Rubric,
    parent: RubricVersion | None = UNSET,
    instructions: str | None = None,
    template: str | None = None,
    output_format: str | None = None,
    criteria: Sequence[Mapping[str, Any]] | None = None,
    message: str = "",
) -> RubricVersion:
    """Make a draft: a copy of ``parent`` with the given fields replaced.

    ``parent`` defaults to the newest published version (``None`` makes a root version).
    Forking an old version and publishing it is how a rollback is done.
    """
    Rubric.objects.select_for_update().filter(pk=rubric.pk).first()  # serialise numbering
    if parent is UNSET:
        parent = default_parent(rubric)
    if parent is not None and parent.rubric_id != rubric.pk:
        raise ValidationError({"parent": ["The parent must be a version of the same rubric."]})
    base = parent.to_spec() if parent is not None else RubricSpec()
    fields: dict[str, Any] = {}
    if instructions is not None:
        fields["instructions"] = instructions
    if template is not None:
        fields["template"] = template
    if output_format is not None:
        fields["output_format"] = output_format
    clean, errors = version_field_errors(fields)
    items = criteria_dicts(base.criteria) if criteria is None else list(criteria)
    cleaned, criteria_errors = _normalise_criteria(items)
    errors.update(criteria_errors)
    if errors:
        raise ValidationError(errors)
    version = RubricVersion.objects.create(
        rubric=rubric,
        number=_next_number(rubric),
        parent=parent,
        status=VersionStatus.DRAFT,
        instructions=clean.get("instructions", base.instructions),
        template=clean.get("template", base.template),
        output_format=clean.get("output_format", base.output_format),
        author=actor_or_none(actor),
        message=message,
    )
    _write_criteria(version, cleaned)
    audit_event_record(
        actor=actor,
        action="rubric_version.create",
        obj=version,
        after={"number": version.number, "parent": parent.number if parent else None},
    )
    return version


def rubric_version_fork(*, actor: Any, version: RubricVersion) -> RubricVersion:
    """A new draft with ``version``'s content and ``version`` as its parent (also rollback)."""
    return rubric_version_create(actor=actor, rubric=version.rubric, parent=version)


def _lock_draft(version: RubricVersion, revision: int | None) -> RubricVersion:
    """Lock the version row, then refuse if it is published or ``revision`` is stale."""
    locked = RubricVersion.objects.select_for_update().get(pk=version.pk)
    if locked.is_published:
        raise VersionNotDraft(locked)
    if revision is not None and int(revision) != locked.revision:
        raise StaleRevision(version=locked, sent=int(revision))
    return locked


def _bump(version: RubricVersion, *fields: str, actor: Any, change: dict[str, Any]) -> None:
    """Save the draft's changed fields with the next revision, and record who changed what.

    The audit keeps the names of what changed, not the texts: the texts are in the draft, and
    an editor saving as the author types would otherwise copy the rubric into the log each time.
    """
    version.revision += 1
    version.save(update_fields=["revision", *fields])
    audit_event_record(
        actor=actor,
        action="rubric_version.edit",
        obj=version,
        after={"revision": version.revision, **change},
    )


@transaction.atomic
def rubric_version_update(
    *,
    actor: Any,
    version: RubricVersion,
    revision: int,
    instructions: str | None = None,
    template: str | None = None,
    output_format: str | None = None,
    message: str | None = None,
    criteria: Sequence[Mapping[str, Any]] | None = None,
) -> RubricVersion:
    """Change a draft's fields (``criteria`` replaces the whole list, matched by ``key``)."""
    locked = _lock_draft(version, revision)
    given = {
        name: value
        for name, value in (
            ("instructions", instructions),
            ("template", template),
            ("output_format", output_format),
            ("message", message),
        )
        if value is not None
    }
    clean, errors = version_field_errors(given)
    cleaned: list[dict[str, Any]] = []
    if criteria is not None:
        cleaned, criteria_errors = _normalise_criteria(criteria)
        errors.update(criteria_errors)
    if errors:
        raise ValidationError(errors)
    for name, value in clean.items():
        setattr(locked, name, value)
    if criteria is not None:
        _write_criteria(locked, cleaned)
    changed = sorted(clean) + (["criteria"] if criteria is not None else [])
    _bump(locked, *clean, actor=actor, change={"fields": changed})
    return locked


# --- criteria of a draft ---------------------------------------------------------------------


@transaction.atomic
def criterion_add(
    *,
    actor: Any,
    version: RubricVersion,
    revision: int,
    title: str = "New criterion",
    description: str = "",
    weight: float = 1.0,
    kind: str = "principle",
    check: dict[str, Any] | None = None,
) -> Criterion:
    """Append a criterion to a draft."""
    locked = _lock_draft(version, revision)
    clean, errors = criterion_field_errors(
        {"title": title, "description": description, "weight": weight, "kind": kind, "check": check}
    )
    if errors:
        raise ValidationError(errors)
    taken = set(locked.criteria.values_list("key", flat=True))
    last = locked.criteria.order_by("-position").values_list("position", flat=True).first()
    criterion = Criterion.objects.create(
        version=locked,
        position=(last + 1) if last is not None else 0,
        key=_unique_key(clean["title"], taken),
        title=clean["title"],
        description=clean["description"],
        weight=clean["weight"],
        kind=clean["kind"],
        machine_check=clean["check"],
    )
    _bump(locked, actor=actor, change={"criterion": criterion.key, "change": "add"})
    return criterion


@transaction.atomic
def criterion_update(
    *, actor: Any, criterion: Criterion, revision: int, **fields: Any
) -> Criterion:
    """Change some of ``title``, ``description``, ``weight``, ``kind``, ``check`` of one criterion.

    Invalid values raise ``ValidationError`` by field and nothing is saved.
    """
    unknown = set(fields) - {"title", "description", "weight", "kind", "check"}
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    locked = _lock_draft(criterion.version, revision)
    clean, errors = criterion_field_errors(fields)
    if errors:
        raise ValidationError(errors)
    current = Criterion.objects.get(pk=criterion.pk, version=locked)
    for name, value in clean.items():
        setattr(current, "machine_check" if name == "check" else name, value)
    current.save()
    _bump(
        locked,
        actor=actor,
        change={"criterion": current.key, "change": "update", "fields": sorted(clean)},
    )
    return current


@transaction.atomic
def criterion_remove(*, actor: Any, criterion: Criterion, revision: int) -> None:
    """Remove a criterion from a draft."""
    locked = _lock_draft(criterion.version, revision)
    Criterion.objects.filter(pk=criterion.pk, version=locked).delete()
    _renumber(locked, list(locked.criteria.order_by("position", "pk").values_list("pk", flat=True)))
    _bump(locked, actor=actor, change={"criterion": criterion.key, "change": "remove"})


def _renumber(version: RubricVersion, ordered_ids: Sequence[int]) -> None:
    by_id = {c.pk: c for c in version.criteria.all()}
    for position, pk in enumerate(ordered_ids):
        criterion = by_id[pk]
        if criterion.position != position:
            criterion.position = position
            criterion.save(update_fields=["position"])


@transaction.atomic
def criterion_move(*, actor: Any, criterion: Criterion, revision: int, offset: int) -> None:
    """Move a criterion ``offset`` places (-1 up, +1 down), clamped to the list."""
    locked = _lock_draft(criterion.version, revision)
    ids = list(locked.criteria.order_by("position", "pk").values_list("pk", flat=True))
    index = ids.index(criterion.pk)
    target = max(0, min(len(ids) - 1, index + offset))
    ids.insert(target, ids.pop(index))
    _renumber(locked, ids)
    _bump(
        locked,
        actor=actor,
        change={"criterion": criterion.key, "change": "move", "position": target},
    )


@transaction.atomic
def criteria_reorder(
    *, actor: Any, version: RubricVersion, revision: int, order: Sequence[int]
) -> None:
    """Put a draft's criteria in the order of ``order`` (every criterion id exactly once)."""
    locked = _lock_draft(version, revision)
    ids = set(locked.criteria.values_list("pk", flat=True))
    if len(order) != len(ids) or set(order) != ids:
        raise ValidationError({"order": ["Send every criterion of the draft exactly once."]})
    _renumber(locked, list(order))
    _bump(locked, actor=actor, change={"change": "reorder"})


# --- publishing and labels -------------------------------------------------------------------


@transaction.atomic
def rubric_version_publish(
    *, actor: Any, version: RubricVersion, message: str, revision: int | None = None
) -> RubricVersion:
    """Freeze a draft: validate it, hash its content, stamp the time, audit, announce it.

    ``hooks.version_published`` is sent after the commit (the drift app starts its checks
    then), so no receiver ever sees a version that might still roll back.
    """
    locked = _lock_draft(version, revision)
    message = message.strip()
    if not message:
        raise ValidationError({"message": ["Say what changed: the message is part of history."]})
    spec = locked.to_spec()
    errors = spec_errors(spec)
    if errors:
        raise ValidationError(errors)
    locked.status = VersionStatus.PUBLISHED
    locked.message = message
    locked.content_hash = spec_module.content_hash(spec)
    locked.published_at = timezone.now()
    locked.save(update_fields=["status", "message", "content_hash", "published_at"])
    audit_event_record(
        actor=actor,
        action="rubric_version.publish",
        obj=locked,
        after={
            "number": locked.number,
            "message": message,
            "content_hash": locked.content_hash,
            "parent": locked.parent.number if locked.parent else None,
        },
    )
    version_id = locked.pk
    transaction.on_commit(
        lambda: hooks.version_published.send(sender=RubricVersion, version_id=version_id)
    )
    return locked
