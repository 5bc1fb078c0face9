"""Exports of one rubric version: JSON and YAML (read back byte for byte) and Markdown."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import yaml
from django.utils.text import slugify

from apps.rubrics.portable.document import SCHEMA, ExportFormat, PortableRubric
from apps.rubrics.spec import (
    CriterionSpec,
    content_hash,
    criterion_content,
)


def to_document(rubric: PortableRubric) -> dict[str, Any]:
    """The file's data, in YAML field order (see ``TOP_FIELDS``)."""
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
