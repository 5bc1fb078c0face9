"""What travels in a rubric file: the portable rubric, its problems, and the limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from apps.rubrics.spec import (
    RubricSpec,
)

SCHEMA = "rubric-studio/rubric@1"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_ERRORS = 20
VERSION_STATUSES = ("draft", "published")
# Matches the rubric name column.
RUBRIC_NAME_MAX = 200

ExportFormat = Literal["json", "yaml", "md"]
ImportFormat = Literal["json", "yaml"]
FileFormat = Literal["json", "yaml", "ripd"]

# Field order of a YAML export (JSON sorts keys): what the rubric is first, the long template last.
TOP_FIELDS = (
    "schema",
    "name",
    "description",
    "version",
    "parent",
    "status",
    "message",
    "instructions",
    "output_format",
    "criteria",
    "template",
)
CRITERION_FIELDS = ("key", "title", "description", "weight", "kind", "check")
REQUIRED_TOP = ("name", "criteria")
REQUIRED_CRITERION = ("key", "title")


@dataclass(frozen=True)
class PortableRubric:
    """One rubric version as it travels in a file: content plus where it came from."""

    name: str
    spec: RubricSpec
    description: str = ""
    version: int | None = None
    parent: int | None = None
    status: str = "draft"
    message: str = ""


@dataclass(frozen=True)
class FileIssue:
    """One problem of a file: ``field`` is a dotted path, ``line`` is 1-based; both optional."""

    message: str
    line: int | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API's ``{line, field, message}`` form."""
        return {"line": self.line, "field": self.field, "message": self.message}


class RubricFileError(ValueError):
    """A rubric file that cannot be imported; ``errors`` holds the first ``MAX_ERRORS`` issues."""

    def __init__(self, errors: Sequence[FileIssue]) -> None:
        self.total = len(errors)
        self.errors: list[FileIssue] = list(errors[:MAX_ERRORS])
        super().__init__(self._describe())

    def as_dicts(self) -> list[dict[str, Any]]:
        """The issues in the API's ``{line, field, message}`` form."""
        return [issue.to_dict() for issue in self.errors]

    def _describe(self) -> str:
        lines = [f"{self.total} problem(s) in the rubric file:"]
        for issue in self.errors:
            where = ", ".join(
                part
                for part in (
                    f"line {issue.line}" if issue.line else "",
                    issue.field or "",
                )
                if part
            )
            lines.append(f"  {where}: {issue.message}" if where else f"  {issue.message}")
        return "\n".join(lines)
