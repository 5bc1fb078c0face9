"""Plain, database-free description of a rubric version's content.

Pure code (diffs, export, prompt rendering, the offline judge) works on these frozen dataclasses,
never on model instances, so it can be tested without a database and shared by the API, the UI,
the CLI and the workers.
"""

from __future__ import annotations

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
