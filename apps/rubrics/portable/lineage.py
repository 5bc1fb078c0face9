"""RIPD lineages: the JSON Lines files of "Rubrics as an Attack Surface", parents first."""

from __future__ import annotations

import graphlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from apps.rubrics.portable.document import DEFAULT_MAX_BYTES, FileIssue, RubricFileError
from apps.rubrics.portable.reading import read_text, type_name
from apps.rubrics.spec import (
    map_ripd_placeholders,
    validate_template,
)

MissingParent = Literal["root", "error"]


@dataclass(frozen=True)
class LineageEntry:
    """One judge prompt of a RIPD lineage, placeholders mapped to ours.

    ``declared_parent_id`` is the parent as written; ``parent_id`` is the parent within the file
    (``None`` for a root). They differ when the file left out intermediate search steps and the
    entry was attached to the file's root (see ``parse_ripd_lineage``).
    """

    prompt_id: str
    parent_id: str | None
    declared_parent_id: str | None
    gen_step: int | None
    template: str
    line: int

    @property
    def parent_in_file(self) -> bool:
        """Whether the declared parent is a row of the same file."""
        return self.parent_id == self.declared_parent_id


@dataclass(frozen=True)
class _Row:
    prompt_id: str
    parent: str | None
    gen_step: int | None
    template: str
    line: int


def parse_ripd_lineage(
    lines: Iterable[str], *, missing_parent: MissingParent = "root"
) -> list[LineageEntry]:
    """Read RIPD JSON Lines ``{prompt_id, parent_prompt_id, gen_step, prompt}``, parents first.

    A root row has no ``parent_prompt_id`` (absent, ``null`` or ``""``; the seed rows of the
    RIPD files leave it out). The published ``*_selected_rubrics.jsonl`` files keep the seed and
    the selected rubric but not the search steps between them, so the selected row names a
    parent that is not in the file. With ``missing_parent="root"`` such a row is attached to the
    file's only root (recorded in ``declared_parent_id``); with ``"error"``, or when the file
    has no single root, it is an error. Rows may carry other fields; they are ignored.

    Raises ``RubricFileError`` listing every problem with its line.
    """
    rows, issues = _read_rows(lines)
    if not rows and not issues:
        issues.append(FileIssue("the file holds no rows"))
    if issues:
        raise RubricFileError(issues)
    parents, issues = _resolve_parents(rows, missing_parent)
    order, cycle_issues = _parents_first(rows, parents)
    issues += cycle_issues
    if issues:
        raise RubricFileError(sorted(issues, key=lambda issue: issue.line or 0))
    return [
        LineageEntry(
            prompt_id=row.prompt_id,
            parent_id=parents[row.prompt_id],
            declared_parent_id=row.parent,
            gen_step=row.gen_step,
            template=row.template,
            line=row.line,
        )
        for row in order
    ]


def load_ripd_lineage(
    data: bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    missing_parent: MissingParent = "root",
) -> list[LineageEntry]:
    """``parse_ripd_lineage`` on a whole file, after the size and encoding checks."""
    text = read_text(data, max_bytes=max_bytes)
    return parse_ripd_lineage(text.split("\n"), missing_parent=missing_parent)


def _read_rows(lines: Iterable[str]) -> tuple[list[_Row], list[FileIssue]]:
    """Parse and check each non-blank line; report repeated ids at their later line."""
    rows: list[_Row] = []
    issues: list[FileIssue] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        row, row_issues = _read_row(raw, number)
        issues += row_issues
        if row is None:
            continue
        if row.prompt_id in first_line:
            issues.append(
                FileIssue(
                    f"duplicate prompt_id {row.prompt_id!r} (first on line "
                    f"{first_line[row.prompt_id]})",
                    line=number,
                    field="prompt_id",
                )
            )
            continue
        first_line[row.prompt_id] = number
        rows.append(row)
    return rows, issues


def _read_row(raw: str, number: int) -> tuple[_Row | None, list[FileIssue]]:
    """One line to a row, or the reasons it is not one."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return None, [FileIssue(f"invalid JSON: {reason}", line=number)]
    if not isinstance(data, dict):
        got = type_name(data)
        return None, [FileIssue(f"a row must be a JSON object, not {got}", line=number)]
    issues: list[FileIssue] = []

    def problem(name: str, message: str) -> None:
        issues.append(FileIssue(message, line=number, field=name))

    prompt_id = _ripd_id(data.get("prompt_id"))
    if prompt_id is None:
        problem("prompt_id", "missing or empty prompt_id (text or a whole number)")
    parent_raw = data.get("parent_prompt_id")
    parent = _ripd_id(parent_raw)
    if parent is None and parent_raw not in (None, ""):
        problem("parent_prompt_id", f"must be text or a whole number, not {parent_raw!r}")
    gen_step = data.get("gen_step")
    if gen_step is not None and (
        isinstance(gen_step, bool) or not isinstance(gen_step, int) or gen_step < 0
    ):
        problem("gen_step", f"must be a whole number of zero or more, not {gen_step!r}")
        gen_step = None
    prompt = data.get("prompt")
    template = ""
    if not isinstance(prompt, str) or not prompt.strip():
        problem("prompt", "missing or empty prompt (the judge prompt text)")
    else:
        template = map_ripd_placeholders(prompt)
        for message in validate_template(template):
            problem("prompt", message)
    if issues or prompt_id is None:
        return None, issues
    return _Row(prompt_id, parent, gen_step, template, number), []


def _ripd_id(value: Any) -> str | None:
    """An id as text; ``None`` for absent, empty or unusable values."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if text.strip() else None


def _resolve_parents(
    rows: Sequence[_Row], missing_parent: MissingParent
) -> tuple[dict[str, str | None], list[FileIssue]]:
    """Each row's parent within the file, attaching rows whose parent was left out."""
    ids = {row.prompt_id for row in rows}
    roots = [row.prompt_id for row in rows if row.parent is None]
    parents: dict[str, str | None] = {}
    issues: list[FileIssue] = []
    for row in rows:
        if row.parent is None or row.parent in ids:
            parents[row.prompt_id] = row.parent
            continue
        if missing_parent == "root" and len(roots) == 1:
            parents[row.prompt_id] = roots[0]
            continue
        why = "" if missing_parent == "error" else f" and the file has {len(roots)} roots, not one"
        issues.append(
            FileIssue(
                f"parent_prompt_id {row.parent!r} is not a prompt_id of this file{why}",
                line=row.line,
                field="parent_prompt_id",
            )
        )
        parents[row.prompt_id] = None
    return parents, issues


def _parents_first(
    rows: Sequence[_Row], parents: Mapping[str, str | None]
) -> tuple[list[_Row], list[FileIssue]]:
    """Rows in topological order (file order among siblings), or the cycle that prevents it."""
    by_id = {row.prompt_id: row for row in rows}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for row in rows:
        parent = parents[row.prompt_id]
        sorter.add(row.prompt_id, *([parent] if parent is not None else []))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(dict.fromkeys(exc.args[1]))
        where = ", ".join(f"{pid!r} (line {by_id[pid].line})" for pid in cycle)
        first = min(by_id[pid].line for pid in cycle)
        return [], [FileIssue(f"parent links form a cycle: {where}", first, "parent_prompt_id")]
    order: list[_Row] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda pid: by_id[pid].line)
        order += [by_id[pid] for pid in ready]
        sorter.done(*ready)
    return order, []
