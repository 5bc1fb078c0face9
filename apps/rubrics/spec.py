"""Plain, database-free description of a rubric version's content.

Pure code (diffs, export, prompt rendering, the offline judge) works on these frozen dataclasses,
never on model instances, so it can be tested without a database and shared by the API, the UI,
the CLI and the workers.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

CriterionKind = Literal["principle", "hard_rule"]
CRITERION_KINDS: tuple[CriterionKind, ...] = ("principle", "hard_rule")

# Machine checks a criterion may carry: {"type": <one of these>, "value": str | int}.
CHECK_TYPES = (
    "required_phrase",
    "forbidden_phrase",
    "regex",
    "forbidden_regex",
    "max_words",
    "min_words",
)


@dataclass(frozen=True)
class CriterionSpec:
    """One criterion: ``key`` is stable across versions so diffs can match criteria."""

    key: str
    title: str
    description: str = ""
    weight: float = 1.0
    kind: CriterionKind = "principle"
    check: dict[str, Any] | None = None


@dataclass(frozen=True)
class RubricSpec:
    """The judged content of a rubric version: free instructions, criteria, optional template.

    ``template`` is a whole judge prompt with placeholders ``{prompt}``, ``{response_a}`` and
    ``{response_b}`` (RIPD files use ``{question}``/``{instruction}``, ``{answer_a}``,
    ``{answer_b}``; importers map those to ours). Empty means the studio's default layout.
    """

    instructions: str = ""
    criteria: tuple[CriterionSpec, ...] = field(default_factory=tuple)
    template: str = ""
    output_format: str = "verdict"


# --- limits shared by every way of writing a rubric (editor, API, file import) ------------------

# A key is a slug so it survives URLs, files and diffs unchanged; the lengths match the columns.
CRITERION_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
CRITERION_KEY_MAX = 64
CRITERION_TITLE_MAX = 200
OUTPUT_FORMAT_MAX = 32
WEIGHT_MAX = 1000.0


# --- placeholders ------------------------------------------------------------------------------

PROMPT_PLACEHOLDER = "{prompt}"
RESPONSE_A_PLACEHOLDER = "{response_a}"
RESPONSE_B_PLACEHOLDER = "{response_b}"
PLACEHOLDERS: tuple[str, ...] = (PROMPT_PLACEHOLDER, RESPONSE_A_PLACEHOLDER, RESPONSE_B_PLACEHOLDER)

# RIPD judge prompts name the slots differently; both question and instruction mean the prompt.
RIPD_PLACEHOLDER_MAP: dict[str, str] = {
    "{question}": PROMPT_PLACEHOLDER,
    "{instruction}": PROMPT_PLACEHOLDER,
    "{answer_a}": RESPONSE_A_PLACEHOLDER,
    "{answer_b}": RESPONSE_B_PLACEHOLDER,
}


def map_ripd_placeholders(template: str) -> str:
    """Rewrite a RIPD judge prompt's placeholders to ours, leaving every other brace as it is.

    Plain ``str.replace`` on the exact placeholder strings: judge prompts may hold literal braces
    (JSON examples), which ``str.format`` would choke on or silently consume.
    """
    for theirs, ours in RIPD_PLACEHOLDER_MAP.items():
        template = template.replace(theirs, ours)
    return template


def validate_template(template: str) -> list[str]:
    """What is wrong with a whole-prompt template; empty when it is usable or empty.

    A non-empty template must show the judge all three texts, so it needs each of our
    placeholders. RIPD-style names get a hint, since importers map them but editors do not.
    """
    if not template.strip():
        return []
    errors: list[str] = []
    for placeholder in PLACEHOLDERS:
        if placeholder in template:
            continue
        theirs = [t for t, ours in RIPD_PLACEHOLDER_MAP.items() if ours == placeholder]
        found = [t for t in theirs if t in template]
        hint = f" (found {found[0]}: write {placeholder} instead)" if found else ""
        errors.append(f"the template must contain the placeholder {placeholder}{hint}")
    return errors


# --- machine checks ----------------------------------------------------------------------------

_PHRASE_CHECKS = frozenset({"required_phrase", "forbidden_phrase"})
_REGEX_CHECKS = frozenset({"regex", "forbidden_regex"})
_COUNT_CHECKS = frozenset({"max_words", "min_words"})
_CHECK_FIELDS = frozenset({"type", "value"})


def validate_check(check: Any) -> list[str]:
    """What is wrong with a criterion's machine check; empty when it is fine or ``None``.

    A check is ``{"type": one of CHECK_TYPES, "value": ...}``: a non-empty phrase, a regular
    expression that compiles, or a positive whole number of words.
    """
    if check is None:
        return []
    if not isinstance(check, dict):
        return ['a check must be an object such as {"type": "max_words", "value": 200}']
    errors = [
        f"unknown check field {name!r}" for name in sorted(set(check) - _CHECK_FIELDS, key=str)
    ]
    check_type = check.get("type")
    if check_type not in CHECK_TYPES:
        got = "missing" if "type" not in check else repr(check_type)
        errors.append(f"check type is {got}; expected one of: {', '.join(CHECK_TYPES)}")
        return errors
    if "value" not in check:
        return [*errors, f"a {check_type} check needs a value"]
    return errors + _value_errors(check_type, check["value"])


def _value_errors(check_type: str, value: Any) -> list[str]:
    """The errors of a check's value for its (known) type."""
    if check_type in _COUNT_CHECKS:
        # bool is an int subclass, and True would read as "1 word".
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return [f"a {check_type} check needs a positive whole number, not {value!r}"]
        return []
    if not isinstance(value, str) or not value.strip():
        return [f"a {check_type} check needs a non-empty text value, not {value!r}"]
    if check_type in _REGEX_CHECKS:
        try:
            re.compile(value)
        except re.error as exc:
            return [f"the regular expression does not compile: {exc}"]
    return []


# --- identity ----------------------------------------------------------------------------------


def criterion_content(criterion: CriterionSpec) -> dict[str, Any]:
    """A criterion as plain JSON-ready data (the field names of the API and of exports)."""
    return {
        "key": criterion.key,
        "title": criterion.title,
        "description": criterion.description,
        # 1 and 1.0 are the same weight; float() keeps the hash and the exports from telling
        # them apart.
        "weight": float(criterion.weight),
        "kind": criterion.kind,
        "check": criterion.check,
    }


def spec_content(spec: RubricSpec) -> dict[str, Any]:
    """A rubric version's judged content as plain JSON-ready data, criteria in their order."""
    return {
        "instructions": spec.instructions,
        "template": spec.template,
        "output_format": spec.output_format,
        "criteria": [criterion_content(c) for c in spec.criteria],
    }


def content_hash(spec: RubricSpec) -> str:
    """SHA-256 (hex) of the canonical JSON of a version's content.

    Two versions with the same hash judge identically; metadata (name, message, numbers) is not
    part of it. Canonical: sorted keys, no spaces, UTF-8 text rather than escapes.
    """
    canonical = json.dumps(
        spec_content(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def spec_from_content(content: dict[str, Any]) -> RubricSpec:
    """A ``RubricSpec`` from its stored JSON (the inverse of ``spec_content``)."""
    return RubricSpec(
        instructions=content.get("instructions", ""),
        template=content.get("template", ""),
        output_format=content.get("output_format", "verdict"),
        criteria=tuple(
            CriterionSpec(
                key=c["key"],
                title=c["title"],
                description=c.get("description", ""),
                weight=float(c.get("weight", 1.0)),
                kind=c.get("kind", "principle"),
                check=c.get("check"),
            )
            for c in content.get("criteria", [])
        ),
    )
