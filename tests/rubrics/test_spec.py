"""Checks, templates, placeholders and content hashes of the plain rubric spec."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from apps.rubrics.spec import (
    CHECK_TYPES,
    PLACEHOLDERS,
    CriterionSpec,
    RubricSpec,
    content_hash,
    map_ripd_placeholders,
    spec_content,
    validate_check,
    validate_template,
)

GOOD_TEMPLATE = 'Judge.\n{prompt}\nA: {response_a}\nB: {response_b}\nAnswer as {"verdict": "A"}.'


def _spec(**overrides: Any) -> RubricSpec:
    base = RubricSpec(
        instructions="Prefer the safer answer.",
        criteria=(
            CriterionSpec("safety", "Safety", "No harm.", 0.5, "hard_rule"),
            CriterionSpec(
                "brevity", "Brevity", "", 1.0, "principle", {"type": "max_words", "value": 50}
            ),
        ),
        template=GOOD_TEMPLATE,
    )
    return replace(base, **overrides)


# --- checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check",
    [
        None,
        {"type": "required_phrase", "value": "I cannot help"},
        {"type": "forbidden_phrase", "value": "as an AI"},
        {"type": "regex", "value": r"^\d+(\.\d+)?$"},
        {"type": "forbidden_regex", "value": r"(?i)password"},
        {"type": "max_words", "value": 200},
        {"type": "min_words", "value": 1},
    ],
)
def test_valid_checks_have_no_errors(check: dict[str, Any] | None) -> None:
    assert validate_check(check) == []


@pytest.mark.parametrize(
    ("check", "needle"),
    [
        ("max_words", "must be an object"),
        ({"value": "x"}, "check type is missing"),
        ({"type": "sentiment", "value": "x"}, "'sentiment'"),
        ({"type": "regex"}, "needs a value"),
        ({"type": "regex", "value": "(unclosed"}, "does not compile"),
        ({"type": "forbidden_regex", "value": "[a-"}, "does not compile"),
        ({"type": "regex", "value": ""}, "non-empty text"),
        ({"type": "required_phrase", "value": "   "}, "non-empty text"),
        ({"type": "forbidden_phrase", "value": 3}, "non-empty text"),
        ({"type": "max_words", "value": 0}, "positive whole number"),
        ({"type": "min_words", "value": -5}, "positive whole number"),
        ({"type": "max_words", "value": 2.5}, "positive whole number"),
        ({"type": "max_words", "value": "200"}, "positive whole number"),
        ({"type": "max_words", "value": True}, "positive whole number"),
        ({"type": "max_words", "value": 10, "flags": "i"}, "unknown check field 'flags'"),
    ],
)
def test_invalid_checks_are_explained(check: Any, needle: str) -> None:
    errors = validate_check(check)
    assert errors
    assert any(needle in message for message in errors), errors


def test_unknown_check_type_lists_the_allowed_types() -> None:
    (message,) = validate_check({"type": "nope", "value": 1})
    assert all(name in message for name in CHECK_TYPES)


# --- templates and placeholders ----------------------------------------------------------------


def test_empty_template_is_valid() -> None:
    assert validate_template("") == []
    assert validate_template("  \n") == []


def test_complete_template_with_literal_braces_is_valid() -> None:
    assert validate_template(GOOD_TEMPLATE) == []


@pytest.mark.parametrize("missing", PLACEHOLDERS)
def test_each_missing_placeholder_is_reported(missing: str) -> None:
    errors = validate_template(GOOD_TEMPLATE.replace(missing, "..."))
    assert len(errors) == 1
    assert missing in errors[0]


def test_ripd_placeholder_gets_a_hint() -> None:
    (message,) = validate_template("{question} {response_a} {response_b}")
    assert "{prompt}" in message
    assert "{question}" in message


def test_ripd_placeholders_map_to_ours_and_keep_other_braces() -> None:
    ripd = 'Q: {question}\nI: {instruction}\n{answer_a} vs {answer_b}\nJSON: {"a": {"b": 1}} {}'
    mapped = map_ripd_placeholders(ripd)
    assert (
        mapped == 'Q: {prompt}\nI: {prompt}\n{response_a} vs {response_b}\nJSON: {"a": {"b": 1}} {}'
    )
    assert validate_template(mapped) == []


# --- content hash ------------------------------------------------------------------------------


def test_content_hash_is_sha256_of_canonical_json() -> None:
    spec = _spec()
    canonical = json.dumps(
        spec_content(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert content_hash(spec) == hashlib.sha256(canonical).hexdigest()


def test_content_hash_is_stable_for_equal_content() -> None:
    assert content_hash(_spec()) == content_hash(_spec())


def test_integer_and_float_weights_hash_the_same() -> None:
    as_int = _spec(criteria=(CriterionSpec("safety", "Safety", weight=2),))
    as_float = _spec(criteria=(CriterionSpec("safety", "Safety", weight=2.0),))
    assert content_hash(as_int) == content_hash(as_float)


@pytest.mark.parametrize(
    "overrides",
    [
        {"instructions": "Prefer the safer answer!"},
        {"template": ""},
        {"output_format": "reasoned"},
        {"criteria": ()},
        {"criteria": tuple(reversed(_spec().criteria))},
        {"criteria": (replace(_spec().criteria[0], weight=0.6), _spec().criteria[1])},
        {"criteria": (replace(_spec().criteria[0], kind="principle"), _spec().criteria[1])},
        {"criteria": (_spec().criteria[0], replace(_spec().criteria[1], check=None))},
        {"criteria": (replace(_spec().criteria[0], key="harm"), _spec().criteria[1])},
    ],
)
def test_any_content_change_changes_the_hash(overrides: dict[str, Any]) -> None:
    assert content_hash(_spec(**overrides)) != content_hash(_spec())
