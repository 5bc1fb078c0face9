"""Writes on rubrics: drafts, criteria, publishing, labels, import. Each one is one transaction.

Every write to a draft carries the ``revision`` the client read. The version row is locked,
the revision compared, and a stale write refused with ``StaleRevision`` (HTTP 409) carrying the
current content, so nothing the client typed is lost and nothing another author saved is
overwritten. A successful write bumps the revision.

Published versions are immutable: the services refuse (``VersionNotDraft``, 409), the models
refuse (``PublishedVersionError``) and on PostgreSQL a trigger refuses (migration 0002).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import Project
from apps.core.api import Conflict
from apps.core.services import audit_event_record
from apps.rubrics import hooks, portable
from apps.rubrics import spec as spec_module
from apps.rubrics.models import (
    Criterion,
    Rubric,
    RubricLabel,
    RubricVersion,
    VersionStatus,
)
from apps.rubrics.spec import (
    CRITERION_KEY_MAX,
    CRITERION_KEY_RE,
    CRITERION_KINDS,
    CRITERION_TITLE_MAX,
    WEIGHT_MAX,
    CriterionSpec,
    RubricSpec,
)

OUTPUT_FORMATS = ("verdict", "reasoned")
DEFAULT_LABEL = "production"
# Keep the default so the service can tell "parent not given" from "parent: null".
UNSET: Any = object()


class StaleRevision(Conflict):
    """The draft changed since the client read it (409 with both revisions and both texts)."""

    def __init__(self, *, version: RubricVersion, sent: int) -> None:
        self.version = version
        self.sent = sent
        self.payload: dict[str, Any] = {
            "detail": (
                f"This draft was saved by someone else since you opened it (you had revision "
                f"{sent}, it is now at revision {version.revision}). Nothing was saved."
            ),
            "code": "stale_revision",
            "revision": version.revision,
            "your_revision": sent,
        }
        super().__init__(self.payload)


class VersionNotDraft(Conflict):
    """A write to a published version (409): fork a new draft instead."""

    def __init__(self, version: RubricVersion) -> None:
        self.version = version
        super().__init__(
            {
                "detail": (
                    f"v{version.number} is published and cannot change; fork a new draft from it."
                ),
                "code": "published",
            }
        )


# --- validation ------------------------------------------------------------------------------


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def check_errors(check: Any) -> list[str]:
    """What is wrong with a criterion's machine check (empty when it is fine or absent)."""
    if check in (None, {}, ""):
        return []
    return [_sentence(m) for m in spec_module.validate_check(check)]


def template_errors(template: str) -> list[str]:
    """What is wrong with a whole-prompt template (empty for none or a good one)."""
    return [_sentence(m) for m in spec_module.validate_template(template)]


def _clean_weight(raw: Any) -> tuple[float | None, list[str]]:
    try:
        weight = float(raw)
    except (TypeError, ValueError):
        return None, ["Enter a number, such as 1 or 2.5."]
    if not math.isfinite(weight) or weight < 0:
        return None, ["The weight must be a number of zero or more."]
    if weight > WEIGHT_MAX:
        return None, [f"The weight must be at most {WEIGHT_MAX:g}."]
    return weight, []


def criterion_field_errors(
    fields: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean the criterion fields present in ``fields``: (clean values, errors by field)."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if "title" in fields:
        title = str(fields["title"] or "").strip()
        if not title:
            errors["title"] = ["A criterion needs a title."]
        elif len(title) > CRITERION_TITLE_MAX:
            errors["title"] = [f"At most {CRITERION_TITLE_MAX} characters."]
        clean["title"] = title
    if "description" in fields:
        clean["description"] = str(fields["description"] or "")
    if "weight" in fields:
        weight, problems = _clean_weight(fields["weight"])
        if problems:
            errors["weight"] = problems
        clean["weight"] = weight
    if "kind" in fields:
        kind = str(fields["kind"] or "")
        if kind not in CRITERION_KINDS:
            errors["kind"] = [f"Choose one of: {', '.join(CRITERION_KINDS)}."]
        clean["kind"] = kind
    if "check" in fields:
        check = fields["check"] or None
        problems = check_errors(check)
        if problems:
            errors["check"] = problems
        clean["check"] = check
    return clean, errors


def _version_field_errors(
    fields: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if "instructions" in fields:
        clean["instructions"] = str(fields["instructions"] or "")
    if "template" in fields:
        template = str(fields["template"] or "")
        problems = template_errors(template)
        if problems:
            errors["template"] = problems
        clean["template"] = template
    if "output_format" in fields:
        output_format = str(fields["output_format"] or "")
        if output_format not in OUTPUT_FORMATS:
            errors["output_format"] = [f"Choose one of: {', '.join(OUTPUT_FORMATS)}."]
        clean["output_format"] = output_format
    if "message" in fields:
        clean["message"] = str(fields["message"] or "")
    return clean, errors


def spec_errors(spec: RubricSpec) -> dict[str, list[str]]:
    """Everything that stops a version's content from being published, by field."""
    errors: dict[str, list[str]] = {}
    if not (spec.instructions.strip() or spec.template.strip() or spec.criteria):
        errors["criteria"] = ["Write instructions, a template or at least one criterion."]
    problems = template_errors(spec.template)
    if problems:
        errors["template"] = problems
    if spec.output_format not in OUTPUT_FORMATS:
        errors["output_format"] = [f"Choose one of: {', '.join(OUTPUT_FORMATS)}."]
    for number, criterion in enumerate(spec.criteria, start=1):
        _, problems_by_field = criterion_field_errors(
            {
                "title": criterion.title,
                "weight": criterion.weight,
                "kind": criterion.kind,
                "check": criterion.check,
            }
        )
        for name, messages in problems_by_field.items():
            errors.setdefault("criteria", []).extend(
                f"criterion {number} ({criterion.title or 'untitled'}), {name}: {m}"
                for m in messages
            )
    return errors


# --- rubrics ---------------------------------------------------------------------------------


def _unique_slug(project: Project, name: str) -> str:
    base = slugify(name)[:70] or "rubric"
    slug, n = base, 2
    while Rubric.objects.filter(project=project, slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _unique_name(project: Project, name: str) -> str:
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
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
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


# --- drafts ----------------------------------------------------------------------------------


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


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


def _criteria_dicts(spec_criteria: Iterable[CriterionSpec]) -> list[dict[str, Any]]:
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
    clean, errors = _version_field_errors(fields)
    items = _criteria_dicts(base.criteria) if criteria is None else list(criteria)
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
        author=_user(actor),
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
    clean, errors = _version_field_errors(given)
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


def rubric_label_move(
    *, actor: Any, rubric: Rubric, version: RubricVersion, label: str = DEFAULT_LABEL
) -> RubricLabel:
    """Point ``label`` (``production``...) at a published version, if every promotion check agrees.

    The one place that decides a promotion: the API, the pages and the admin all call it. The
    rubric's row is locked first, so promotions and the drift decisions that take the same lock
    (approve, block) on one rubric happen one after the other; the checks
    (``hooks.register_promotion_check``) and the move share one transaction, so nothing can
    change between "allowed" and "moved". Raises ``Conflict`` (409) with the reason when the
    version is not published or a check refuses; a refusal is audited.
    """
    label = slugify(label)[:40]
    if not label:
        raise ValidationError({"label": ["Name the label, such as production."]})
    if version.rubric_id != rubric.pk:
        raise ValidationError({"version": ["That version belongs to another rubric."]})
    with transaction.atomic():
        locked = Rubric.objects.select_for_update().get(pk=rubric.pk)
        version = RubricVersion.objects.get(pk=version.pk)
        if not version.is_published:
            raise Conflict(
                {
                    "detail": f"v{version.number} is a draft; publish it before labelling it "
                    f"{label}.",
                    "code": "draft",
                }
            )
        existing = (
            RubricLabel.objects.select_for_update()
            .select_related("version")
            .filter(rubric=locked, name=label)
            .first()
        )
        production_label = (
            existing
            if label == DEFAULT_LABEL
            else RubricLabel.objects.select_related("version")
            .filter(rubric=locked, name=DEFAULT_LABEL)
            .first()
        )
        production = production_label.version if production_label is not None else None
        refusal = hooks.promotion_refusal(
            rubric=locked, version=version, label=label, production=production
        )
        if refusal is None:
            return _label_point(
                actor=actor, rubric=locked, version=version, label=label, existing=existing
            )
    # Refused: the transaction is over and the lock released, so a follow-up (a drift check
    # started because production moved) can commit and dispatch its own work.
    if refusal.follow_up is not None:
        refusal = refusal.follow_up()
    audit_event_record(
        actor=actor,
        action="rubric.promote_refused",
        obj=rubric,
        after={
            "label": label,
            "version": version.number,
            "version_id": version.pk,
            "reason": refusal.reason,
            "code": refusal.code,
        },
    )
    raise Conflict(refusal.payload())


def _label_point(
    *,
    actor: Any,
    rubric: Rubric,
    version: RubricVersion,
    label: str,
    existing: RubricLabel | None,
) -> RubricLabel:
    """Move (or create) the label, announce it and audit it; inside the promotion's transaction."""
    previous = existing.version if existing is not None else None
    before = {"label": label, "version": previous.number} if previous is not None else None
    if existing is None:
        moved = RubricLabel.objects.create(
            rubric=rubric, name=label, version=version, moved_by=_user(actor)
        )
    else:
        existing.version = version
        existing.moved_by = _user(actor)
        existing.save()
        moved = existing
    hooks.label_moved.send(
        sender=Rubric, rubric=rubric, version=version, label=label, previous=previous, actor=actor
    )
    audit_event_record(
        actor=actor,
        action="rubric.promote",
        obj=rubric,
        before=before,
        after={"label": label, "version": version.number, "version_id": version.pk},
    )
    return moved


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
    unique = _unique_name(project, fallback[:200].strip() or "Imported rubric")
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
        criteria=_criteria_dicts(spec.criteria),
        message=document.message,
    )
    if publish or document.status == VersionStatus.PUBLISHED:
        message = document.message.strip() or f"Imported from {filename}."
        version = rubric_version_publish(actor=actor, version=version, message=message)
    return version
