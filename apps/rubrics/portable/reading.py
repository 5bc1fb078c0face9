"""Imports of one rubric version (JSON, YAML): bytes to data, data to a validated rubric.

Every problem is reported at once (the first ``MAX_ERRORS``) as ``{line, field, message}``,
with ``field`` a dotted path such as ``criteria[2].weight`` and ``line`` 1-based when known.
"""

from __future__ import annotations

import codecs
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from apps.rubrics.portable.document import (
    CRITERION_FIELDS,
    DEFAULT_MAX_BYTES,
    REQUIRED_CRITERION,
    REQUIRED_TOP,
    RUBRIC_NAME_MAX,
    SCHEMA,
    TOP_FIELDS,
    VERSION_STATUSES,
    FileFormat,
    FileIssue,
    ImportFormat,
    PortableRubric,
    RubricFileError,
)
from apps.rubrics.spec import (
    CRITERION_KEY_MAX,
    CRITERION_KEY_RE,
    CRITERION_KINDS,
    CRITERION_TITLE_MAX,
    OUTPUT_FORMAT_MAX,
    WEIGHT_MAX,
    CriterionSpec,
    RubricSpec,
    validate_check,
    validate_template,
)

# --- import: bytes to data ---------------------------------------------------------------------


def import_json(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> PortableRubric:
    """Read a JSON rubric file; raises ``RubricFileError`` with every problem found."""
    return import_rubric(data, "json", max_bytes=max_bytes)


def import_yaml(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> PortableRubric:
    """Read a YAML rubric file; raises ``RubricFileError`` with every problem found."""
    return import_rubric(data, "yaml", max_bytes=max_bytes)


def import_rubric(
    data: bytes | str, fmt: ImportFormat, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> PortableRubric:
    """Read a JSON or YAML rubric file into a ``PortableRubric``.

    The size is checked before anything is parsed. Raises ``RubricFileError``.
    """
    if fmt not in ("json", "yaml"):
        raise ValueError(f"unknown import format {fmt!r}; expected json or yaml")
    text = read_text(data, max_bytes=max_bytes)
    doc, lines, duplicates = _parse_json(text) if fmt == "json" else _parse_yaml(text)
    rubric, problems = validate_document(doc)
    if duplicates or problems:
        line_of = lines if lines is not None else _node_lines(text)[0]
        located = duplicates + [_with_line(issue, line_of) for issue in problems]
        # Whole-file problems (no line) first, then in file order; the sort is stable.
        raise RubricFileError(sorted(located, key=lambda issue: issue.line or 0))
    assert rubric is not None  # no problems means a rubric was built
    return rubric


def read_text(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Check the size, then decode UTF-8 (a byte-order mark is dropped).

    Raises ``RubricFileError`` for a file over ``max_bytes`` or one that is not UTF-8.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise RubricFileError(
            [FileIssue(f"the file is {_mb(size)}, over the limit of {_mb(max_bytes)}")]
        )
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    raw = data.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RubricFileError(
            [FileIssue(f"the file is not UTF-8 text ({exc.reason})", line=line)]
        ) from None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


_LineMap = dict[str, int]
# Parsed data, the line of each field path when already known, and keys repeated in a mapping.
# Syntax errors are raised at once: nothing can be checked past them.
_Parsed = tuple[Any, _LineMap | None, list[FileIssue]]


def _parse_json(text: str) -> _Parsed:
    """JSON to data. Line numbers for later problems are looked up only when needed."""
    duplicates: list[str] = []

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        doc = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        issue = FileIssue(f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        raise RubricFileError([issue]) from None
    except (ValueError, RecursionError) as exc:
        raise RubricFileError([FileIssue(f"invalid JSON: {exc}")]) from None
    if duplicates:
        # The YAML composer reads JSON too and knows where each key is; fall back to names.
        lines, issues = _node_lines(text)
        return (
            doc,
            lines,
            issues
            or [FileIssue(f"field {key!r} appears twice in one object") for key in duplicates],
        )
    return doc, None, []


class _MarkedLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (the C one when available); nodes keep their line marks."""


def _parse_yaml(text: str) -> _Parsed:
    """YAML to data, with a line for every field path and duplicate keys reported."""
    loader = _MarkedLoader(text)
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        issue = FileIssue(f"invalid YAML: {message}{column}", line=_mark_line(mark))
        raise RubricFileError([issue]) from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise RubricFileError([FileIssue(f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    lines, issues = _index_nodes(node) if node is not None else ({}, [])
    return doc, lines, issues


def _mark_line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _node_lines(text: str) -> tuple[_LineMap, list[FileIssue]]:
    """Field-path lines of a text the YAML composer can read (JSON mostly is); else none."""
    loader = _MarkedLoader(text)
    try:
        node = loader.get_single_node()
    except (yaml.YAMLError, ValueError, RecursionError):
        return {}, []
    finally:
        loader.dispose()
    return _index_nodes(node) if node is not None else ({}, [])


def _index_nodes(root: yaml.Node) -> tuple[_LineMap, list[FileIssue]]:
    """Map each field path to its line, and report keys repeated within one mapping.

    Each node is visited once: YAML aliases can share a node many times over, and walking
    every share would take exponential time on a crafted file.
    """
    lines: _LineMap = {}
    issues: list[FileIssue] = []
    visited: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                child = _join(path, str(key_node.value))
                if child in seen:
                    issues.append(
                        FileIssue(
                            "this field appears twice",
                            line=_mark_line(key_node.start_mark),
                            field=child,
                        )
                    )
                seen.add(child)
                lines.setdefault(child, key_node.start_mark.line + 1)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                lines.setdefault(child, item.start_mark.line + 1)
                stack.append((item, child))
    issues.sort(key=lambda issue: issue.line or 0)
    return lines, issues


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _with_line(issue: FileIssue, lines: Mapping[str, int]) -> FileIssue:
    """The issue with the line of its field, or of the nearest enclosing field."""
    path = issue.field or ""
    while path:
        if path in lines:
            return FileIssue(issue.message, line=lines[path], field=issue.field)
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return issue


# --- import: data to a rubric ------------------------------------------------------------------


@dataclass
class _Checker:
    """Collects problems while fields are read, so one pass reports all of them."""

    issues: list[FileIssue] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.issues.append(FileIssue(message, field=path))

    def known_fields(self, obj: Mapping[Any, Any], path: str, allowed: Sequence[str]) -> None:
        """Report unknown fields by name, with a suggestion for likely misspellings."""
        for name in obj:
            if name in allowed:
                continue
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.add(_join(path, str(name)), f"unknown field {name!r}{hint}")

    def required(self, obj: Mapping[Any, Any], path: str, names: Sequence[str]) -> None:
        for name in names:
            if obj.get(name) is None:
                self.add(_join(path, name), f"missing required field {name!r}")

    def text(
        self,
        obj: Mapping[Any, Any],
        path: str,
        name: str,
        *,
        max_length: int | None = None,
        non_empty: bool = False,
    ) -> str:
        """A text field; ``null`` or absent reads as empty (required ones are checked apart)."""
        value = obj.get(name)
        if value is None:
            return ""
        where = _join(path, name)
        if not isinstance(value, str):
            self.add(where, f"must be text, not {type_name(value)}")
            return ""
        if non_empty and not value.strip():
            self.add(where, "must not be empty")
        if max_length is not None and len(value) > max_length:
            self.add(where, f"must be at most {max_length} characters, not {len(value)}")
        return value

    def number(self, obj: Mapping[Any, Any], path: str, name: str) -> int | None:
        """An optional positive whole number (version numbers)."""
        value = obj.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.add(_join(path, name), f"must be a positive whole number, not {value!r}")
            return None
        return value

    def choice(
        self, obj: Mapping[Any, Any], path: str, name: str, options: Sequence[str], default: str
    ) -> str:
        value = obj.get(name, default)
        if value is None:
            return default
        if value not in options:
            self.add(_join(path, name), f"must be one of {', '.join(options)}, not {value!r}")
            return default
        return str(value)


def type_name(value: Any) -> str:
    names = {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


def validate_document(doc: Any) -> tuple[PortableRubric | None, list[FileIssue]]:
    """Check parsed file data and build the rubric; problems come back without lines."""
    checker = _Checker()
    if not isinstance(doc, dict):
        got = "nothing" if doc is None else type_name(doc)
        return None, [FileIssue(f"the file must hold one rubric object, not {got}")]
    checker.known_fields(doc, "", TOP_FIELDS)
    checker.required(doc, "", REQUIRED_TOP)
    schema = doc.get("schema")
    if schema is not None and schema != SCHEMA:
        checker.add("schema", f"unsupported schema {schema!r}; this version reads {SCHEMA!r}")
    criteria = _criteria(doc.get("criteria"), checker)
    template = checker.text(doc, "", "template")
    for message in validate_template(template):
        checker.add("template", message)
    version, parent = checker.number(doc, "", "version"), checker.number(doc, "", "parent")
    if version is not None and parent is not None and parent >= version:
        checker.add("parent", f"the parent ({parent}) must come before the version ({version})")
    spec = RubricSpec(
        instructions=checker.text(doc, "", "instructions"),
        criteria=criteria,
        template=template,
        output_format=checker.text(doc, "", "output_format", max_length=OUTPUT_FORMAT_MAX)
        or RubricSpec.output_format,
    )
    rubric = PortableRubric(
        name=checker.text(doc, "", "name", max_length=RUBRIC_NAME_MAX, non_empty=True),
        spec=spec,
        description=checker.text(doc, "", "description"),
        version=version,
        parent=parent,
        status=checker.choice(doc, "", "status", VERSION_STATUSES, "draft"),
        message=checker.text(doc, "", "message"),
    )
    return (None, checker.issues) if checker.issues else (rubric, [])


def _criteria(value: Any, checker: _Checker) -> tuple[CriterionSpec, ...]:
    """Read the criteria list, reporting repeated keys at their second use."""
    if value is None:
        return ()
    if not isinstance(value, list):
        checker.add("criteria", f"must be a list of criteria, not {type_name(value)}")
        return ()
    criteria: list[CriterionSpec] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(value):
        path = f"criteria[{index}]"
        criterion = _criterion(item, path, checker)
        if criterion is None:
            continue
        if criterion.key in first_use:
            first = first_use[criterion.key]
            checker.add(f"{path}.key", f"duplicate key {criterion.key!r} (also criteria[{first}])")
        first_use.setdefault(criterion.key, index)
        criteria.append(criterion)
    return tuple(criteria)


def _criterion(item: Any, path: str, checker: _Checker) -> CriterionSpec | None:
    """Read one criterion; ``None`` when it is not even an object."""
    if not isinstance(item, dict):
        checker.add(path, f"a criterion must be an object, not {type_name(item)}")
        return None
    checker.known_fields(item, path, CRITERION_FIELDS)
    checker.required(item, path, REQUIRED_CRITERION)
    key = checker.text(item, path, "key", max_length=CRITERION_KEY_MAX)
    if key and not CRITERION_KEY_RE.match(key):
        checker.add(f"{path}.key", "use only letters, digits, '-' and '_'")
    check = item.get("check")
    for message in validate_check(check):
        checker.add(f"{path}.check", message)
    return CriterionSpec(
        key=key,
        title=checker.text(item, path, "title", max_length=CRITERION_TITLE_MAX, non_empty=True),
        description=checker.text(item, path, "description"),
        weight=_weight(item, path, checker),
        kind=checker.choice(item, path, "kind", CRITERION_KINDS, "principle"),  # type: ignore[arg-type]
        check=dict(check) if isinstance(check, dict) else None,
    )


def _weight(item: Mapping[str, Any], path: str, checker: _Checker) -> float:
    value = item.get("weight")
    if value is None:
        return 1.0
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or not 0 <= value <= WEIGHT_MAX:
        checker.add(f"{path}.weight", f"must be a number from 0 to {WEIGHT_MAX:g}, not {value!r}")
        return 1.0
    return float(value)


# --- telling formats apart ---------------------------------------------------------------------


def sniff_format(data: bytes | str, filename: str | None = None) -> FileFormat:
    """Guess ``json``, ``yaml`` or ``ripd`` (a JSON Lines lineage) from the name, then content.

    A ``.json`` file whose first line is a RIPD row is a one-row lineage.
    """
    name = (filename or "").lower()
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith((".jsonl", ".ndjson")):
        return "ripd"
    head = data[:65536].decode("utf-8", "replace") if isinstance(data, bytes) else data[:65536]
    head = head.lstrip("\ufeff \t\r\n")
    if not head.startswith(("{", "[")):
        return "json" if name.endswith(".json") else "yaml"
    first_line = head.split("\n", 1)[0]
    try:
        row = json.loads(first_line)
    except ValueError:
        return "json"
    return "ripd" if isinstance(row, dict) and "prompt_id" in row else "json"
