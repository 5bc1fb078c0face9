"""Rubric files: export and import of one version (JSON, YAML, Markdown) and RIPD lineages.

A portable rubric is a version's content (``RubricSpec``) plus the metadata a reader needs to
place it: rubric name and description, version and parent numbers, status and message. JSON
and YAML exports read back into the same ``PortableRubric``, byte for byte on re-export.
Markdown is for people and is export only.

Imports validate everything before giving up and report every problem at once (the first
``MAX_ERRORS``) as ``{line, field, message}``, with ``field`` a dotted path such as
``criteria[2].weight`` (0-based indexes) and ``line`` the 1-based line when known.

A RIPD lineage (the JSON Lines files of "Rubrics as an Attack Surface") holds whole judge
prompts, one a row, linked by ``parent_prompt_id``; ``parse_ripd_lineage`` orders them parents
first with our placeholder names.
"""

from __future__ import annotations

import codecs
import difflib
import graphlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from django.utils.text import slugify

from apps.rubrics.spec import (
    CRITERION_KEY_MAX,
    CRITERION_KEY_RE,
    CRITERION_KINDS,
    CRITERION_TITLE_MAX,
    OUTPUT_FORMAT_MAX,
    WEIGHT_MAX,
    CriterionSpec,
    RubricSpec,
    content_hash,
    criterion_content,
    map_ripd_placeholders,
    validate_check,
    validate_template,
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
_TOP_FIELDS = (
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
_CRITERION_FIELDS = ("key", "title", "description", "weight", "kind", "check")
_REQUIRED_TOP = ("name", "criteria")
_REQUIRED_CRITERION = ("key", "title")


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


# --- export ------------------------------------------------------------------------------------


def to_document(rubric: PortableRubric) -> dict[str, Any]:
    """The file's data, in YAML field order (see ``_TOP_FIELDS``)."""
    spec = rubric.spec
    return {
        "schema": SCHEMA,
        "name": rubric.name,
        "description": rubric.description,
        "version": rubric.version,
        "parent": rubric.parent,
        "status": rubric.status,
        "message": rubric.message,
        "instructions": spec.instructions,
        "output_format": spec.output_format,
        "criteria": [criterion_content(c) for c in spec.criteria],
        "template": spec.template,
    }


def export_json(rubric: PortableRubric) -> str:
    """JSON export: sorted keys, two-space indent, UTF-8 text, trailing newline."""
    return json.dumps(to_document(rubric), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class _ExportDumper(yaml.SafeDumper):
    """Safe dumper that writes multi-line text as block scalars and never emits aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        # Two criteria sharing one check dict must not turn into an anchor and an alias.
        return True


# Line breaks other than "\n" are normalised by YAML readers inside block, plain and single-quoted
# scalars; only double quotes escape them, so text holding one is always double-quoted.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Block style for multi-line text; PyYAML falls back to quotes where block is unsafe."""
    style = '"' if _OTHER_BREAKS.search(value) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ExportDumper.add_representer(str, _represent_str)


def export_yaml(rubric: PortableRubric) -> str:
    """YAML export: fixed field order, multi-line text as ``|`` blocks, UTF-8 text."""
    return yaml.dump(
        to_document(rubric),
        Dumper=_ExportDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def export_markdown(rubric: PortableRubric) -> str:
    """A readable Markdown page of the version (not importable)."""
    spec = rubric.spec
    parts = [f"# {rubric.name}", _version_line(rubric)]
    if rubric.message:
        parts.append(f"> {_one_line(rubric.message)}")
    if rubric.description:
        parts.append(rubric.description)
    if spec.instructions:
        parts += ["## Instructions", spec.instructions]
    parts.append("## Criteria")
    if not spec.criteria:
        parts.append("_No criteria._")
    for position, criterion in enumerate(spec.criteria, start=1):
        parts.append(_criterion_markdown(position, criterion))
    if spec.template:
        fence = _fence_for(spec.template)
        parts += ["## Judge prompt template", f"{fence}text\n{spec.template}\n{fence}"]
    parts.append(f"Output format: `{spec.output_format}` · content hash: `{content_hash(spec)}`")
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


def export_rubric(rubric: PortableRubric, fmt: ExportFormat) -> str:
    """Export in ``json``, ``yaml`` or ``md``."""
    exporters: dict[str, Callable[[PortableRubric], str]] = {
        "json": export_json,
        "yaml": export_yaml,
        "md": export_markdown,
    }
    if fmt not in exporters:
        raise ValueError(f"unknown export format {fmt!r}; expected json, yaml or md")
    return exporters[fmt](rubric)


def export_filename(rubric: PortableRubric, fmt: ExportFormat) -> str:
    """A download name such as ``helpfulness-judge-v3.yaml``."""
    slug = slugify(rubric.name) or "rubric"
    suffix = f"-v{rubric.version}" if rubric.version is not None else ""
    return f"{slug}{suffix}.{fmt}"


def _version_line(rubric: PortableRubric) -> str:
    number = f"Version {rubric.version}" if rubric.version is not None else "Unnumbered version"
    parent = f", from version {rubric.parent}" if rubric.parent is not None else ""
    return f"**{number}** ({rubric.status}{parent})"


def _criterion_markdown(position: int, criterion: CriterionSpec) -> str:
    kind = "hard rule" if criterion.kind == "hard_rule" else "principle"
    lines = [
        f"### {position}. {_one_line(criterion.title)}",
        f"{_code(criterion.key)} · weight {criterion.weight:g} · {kind}",
    ]
    if criterion.description:
        lines.append(f"\n{criterion.description}")
    if criterion.check:
        check_type = str(criterion.check.get("type", "")).replace("_", " ")
        lines.append(
            f"\nMachine check: {check_type} {_code(str(criterion.check.get('value', '')))}"
        )
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fence_for(text: str, shortest: int = 3) -> str:
    """A backtick fence longer than any backtick run inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(shortest, longest + 1)


def _code(text: str) -> str:
    """Inline code that survives backticks in ``text`` (CommonMark strips one padding space)."""
    fence = _fence_for(text, shortest=1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


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
            self.add(where, f"must be text, not {_type_name(value)}")
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


def _type_name(value: Any) -> str:
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
        got = "nothing" if doc is None else _type_name(doc)
        return None, [FileIssue(f"the file must hold one rubric object, not {got}")]
    checker.known_fields(doc, "", _TOP_FIELDS)
    checker.required(doc, "", _REQUIRED_TOP)
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
        checker.add("criteria", f"must be a list of criteria, not {_type_name(value)}")
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
        checker.add(path, f"a criterion must be an object, not {_type_name(item)}")
        return None
    checker.known_fields(item, path, _CRITERION_FIELDS)
    checker.required(item, path, _REQUIRED_CRITERION)
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


# --- RIPD lineages -----------------------------------------------------------------------------

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
        got = _type_name(data)
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
