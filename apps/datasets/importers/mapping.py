"""The field mapping shared by the JSON Lines and CSV importers.

Targets and their default source names:

============  ==============  ======================================================
target        default source  meaning
============  ==============  ======================================================
prompt        ``prompt``      required, non-empty text (may be a whole transcript)
response_a    ``response_a``  required, non-empty text
response_b    ``response_b``  required, non-empty text
label         ``label``       optional: ``A``, ``B`` or ``tie`` (any case); empty or
                              absent means no gold label
domain        ``domain``      optional: empty or absent falls back to the ``domain``
                              option, then ``general``
id            ``id``          optional: the source's own id, kept as ``external_id``
============  ==============  ======================================================

``ImportOptions.field_map`` renames any of them, e.g. ``{"prompt": "question", "label":
"winner"}``. Every other source field is kept in the pair's ``metadata``; a JSON field named
``metadata`` holding an object is merged into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.datasets.importers.base import (
    ImportOptions,
    Label,
    PairRecord,
    RowReader,
    Skipped,
    json_type_name,
    make_record,
)

TARGETS = ("prompt", "response_a", "response_b", "label", "domain", "id")
LABEL_VALUES: dict[str, Label] = {"a": "A", "b": "B", "tie": "tie"}
LABEL_EXPECTED = "A, B or tie (or empty for no label)"


def resolve_field_map(field_map: Mapping[str, str]) -> dict[str, str]:
    """Target -> source name for every target, defaults filled in; ValueError on bad keys."""
    unknown = sorted(set(field_map) - set(TARGETS))
    if unknown:
        raise ValueError(
            f"unknown field mapping target(s) {', '.join(unknown)}; "
            f"the targets are {', '.join(TARGETS)}"
        )
    resolved = {target: field_map.get(target, target) for target in TARGETS}
    sources = list(resolved.values())
    duplicated = sorted({name for name in sources if sources.count(name) > 1})
    if duplicated:
        raise ValueError(f"field mapping uses {', '.join(duplicated)} for more than one target")
    return resolved


def mapped_record(
    line: int, row: Mapping[str, Any], fields: Mapping[str, str], options: ImportOptions
) -> PairRecord | Skipped:
    """Build a record from a row of named fields through the resolved mapping ``fields``."""
    reader = RowReader(row, options)
    prompt = reader.text(fields["prompt"])
    response_a = reader.text(fields["response_a"])
    response_b = reader.text(fields["response_b"])
    label_field = fields["label"]
    gold_label = reader.label(label_field, row.get(label_field), LABEL_VALUES, LABEL_EXPECTED)
    domain_field = fields["domain"]
    domain = reader.domain(reader.text(domain_field, required=False), field_name=domain_field)
    native_id = native_id_of(reader, fields["id"], row.get(fields["id"]))

    used = set(fields.values())
    metadata: dict[str, Any] = {}
    extra = row.get("metadata")
    if "metadata" not in used and isinstance(extra, dict):
        metadata.update(extra)
        used.add("metadata")
    metadata.update({key: value for key, value in row.items() if key not in used})
    return make_record(
        reader,
        line=line,
        prompt=prompt,
        response_a=response_a,
        response_b=response_b,
        domain=domain,
        gold_label=gold_label,
        metadata=reader.metadata(metadata),
        native_id=native_id,
        id_field=fields["id"],
    )


def native_id_of(reader: RowReader, name: str, value: Any) -> str | None:
    """The source's own id of a row (a string or an integer), or None when it has none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        reader.fail(
            name, f"field {name} must be a string or an integer, not {json_type_name(value)}"
        )
        return None
    return reader.checked(name, str(value).strip())
