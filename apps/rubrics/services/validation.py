"""Rubric field checks and the conflicts a draft write can raise (stale revision, not a draft)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from apps.core.api import Conflict
from apps.rubrics import spec as spec_module
from apps.rubrics.models import (
    RubricVersion,
)
from apps.rubrics.spec import (
    CRITERION_KINDS,
    CRITERION_TITLE_MAX,
    WEIGHT_MAX,
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


def version_field_errors(
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
