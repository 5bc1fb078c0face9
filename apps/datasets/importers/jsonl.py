"""JSON Lines: one JSON object a line.

Fields, with the default names (``ImportOptions.field_map`` renames them; see
:mod:`apps.datasets.importers.mapping` for the full table)::

    {"prompt": "...", "response_a": "...", "response_b": "...",
     "label": "A" | "B" | "tie" | null, "domain": "code", "id": "q-17", ...}

``prompt``, ``response_a`` and ``response_b`` are required non-empty strings; ``label``,
``domain`` and ``id`` are optional; other fields go to ``metadata``. Blank lines are ignored.
The file may be gzip-compressed.
"""

from __future__ import annotations

from typing import Any

from apps.datasets.importers.base import (
    ImportOptions,
    JsonLinesImporter,
    PairRecord,
    Skipped,
    require_object,
)
from apps.datasets.importers.mapping import mapped_record, resolve_field_map


class JsonlImporter(JsonLinesImporter):
    """Pairs from JSON Lines with a configurable field mapping."""

    format = "jsonl"

    def __init__(self, options: ImportOptions | None = None) -> None:
        super().__init__(options)
        self.fields = resolve_field_map(self.options.field_map)

    def record(self, line: int, row: Any) -> PairRecord | Skipped:
        """Map the object's fields to a pair."""
        return mapped_record(line, require_object(row), self.fields, self.options)
