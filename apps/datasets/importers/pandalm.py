"""PandaLM test set: one JSON array of objects, read element by element (never whole).

Element fields and their mapping::

    {"idx": 0, "motivation_app": "Grammarly", "cmp_key": "bloom-7b_llama-7b",
     "instruction": "...", "input": "...", "response1": "...", "response2": "...",
     "annotator1": 2, "annotator2": 2, "annotator3": 1}

* ``prompt``: ``instruction``, followed by a blank line and ``input`` when ``input`` is not
  empty (both trimmed); at least one of them must hold text.
* ``response_a`` / ``response_b``: ``response1`` / ``response2``. They may be empty (models
  that answered nothing were still judged). The published file stores six responses as JSON
  ``true``; numbers and booleans are taken as their JSON spelling (``"true"``) and the field
  names are listed in ``metadata["coerced_fields"]``.
* ``annotator1``..``annotator3``: each ``0`` (tie), ``1`` (response1 = A) or ``2``
  (response2 = B), as a number or a string. They become ``annotations`` of the three imported
  annotators ``pandalm-annotator1``..``3``, so agreement statistics run on real labels; the raw
  values stay in ``metadata["labels"]``. Further ``annotatorN`` fields are imported the same way.
* ``gold_label``: the majority of the annotators, ``tie`` when there is no majority.
* ``external_id``: ``idx``; ``domain``: the ``domain`` option, else ``general``
  (``motivation_app`` names one of 50 source apps and stays in ``metadata``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from apps.datasets.importers.base import (
    Label,
    PairImporter,
    PairRecord,
    RowReader,
    Skipped,
    make_record,
    require_object,
)
from apps.datasets.importers.reading import JsonArrayScanner, ProblemLog, iter_text_chunks

REQUIRED_ANNOTATORS = ("annotator1", "annotator2", "annotator3")
ANNOTATOR_PREFIX = "pandalm-"
LABEL_VALUES: dict[int, Label] = {0: "tie", 1: "A", 2: "B"}
LABEL_EXPECTED = "0 (tie), 1 (response1) or 2 (response2)"
_ANNOTATOR_FIELD = re.compile(r"annotator(\d+)")


def majority_label(labels: list[Label]) -> Label:
    """The label more than half of ``labels`` agree on; ``tie`` when none has a majority."""
    label, count = Counter(labels).most_common(1)[0]
    return label if count * 2 > len(labels) else "tie"


class PandaLmImporter(PairImporter):
    """PandaLM's human-annotated test set, with each annotator's label kept."""

    format = "pandalm"

    def rows(self, stream: IO[bytes], log: ProblemLog) -> Iterator[tuple[int, Any]]:
        """The array's elements, with the line each starts on."""
        chunks = iter_text_chunks(stream, log)
        return iter(JsonArrayScanner(chunks, log, max_element_chars=self.options.max_line_bytes))

    def record(self, line: int, row: Any) -> PairRecord | Skipped:
        """Map one element; the annotators' labels become annotations and a majority gold."""
        row = require_object(row, "a JSON object as array element")
        reader = RowReader(row, self.options)
        instruction = reader.text("instruction", required=False)
        extra_input = reader.text("input", required=False, scalars_as_text=True)
        prompt = "\n\n".join(part.strip() for part in (instruction, extra_input) if part.strip())
        if "instruction" not in row:
            reader.fail("instruction", "field instruction is missing")
        elif not prompt and not reader.problems:
            reader.fail("instruction", "field instruction is empty (and so is input)")
        response_a = reader.text("response1", allow_empty=True, scalars_as_text=True)
        response_b = reader.text("response2", allow_empty=True, scalars_as_text=True)
        coerced = [
            name
            for name in ("input", "response1", "response2")
            if row.get(name) is not None and not isinstance(row[name], str)
        ]

        annotations: list[tuple[str, Label]] = []
        raw_labels: dict[str, Any] = {}
        for name in self._annotator_fields(row, reader):
            value = row[name]
            raw_labels[name] = value
            label = self._label(reader, name, value)
            if label is not None:
                annotations.append((ANNOTATOR_PREFIX + name, label))

        native_id = self._native_id(reader, row.get("idx"))
        metadata: dict[str, Any] = {
            key: value
            for key, value in row.items()
            if key not in ("instruction", "input", "response1", "response2")
            and not _ANNOTATOR_FIELD.fullmatch(key)
        }
        metadata["labels"] = raw_labels
        if coerced:
            metadata["coerced_fields"] = coerced
        reader.check()
        return make_record(
            reader,
            line=line,
            prompt=prompt,
            response_a=response_a,
            response_b=response_b,
            domain=reader.domain(None),
            gold_label=majority_label([label for _, label in annotations]),
            metadata=reader.metadata(metadata),
            native_id=native_id,
            id_field="idx",
            annotations=tuple(annotations),
        )

    @staticmethod
    def _annotator_fields(row: dict[str, Any], reader: RowReader) -> list[str]:
        for name in REQUIRED_ANNOTATORS:
            if name not in row:
                reader.fail(name, f"field {name} is missing")
        found = [(int(m.group(1)), key) for key in row if (m := _ANNOTATOR_FIELD.fullmatch(key))]
        return [key for _, key in sorted(found)]

    @staticmethod
    def _label(reader: RowReader, name: str, value: Any) -> Label | None:
        code: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            code = value
        elif isinstance(value, str) and value.strip().isdigit():
            code = int(value.strip())
        if code in LABEL_VALUES:
            return LABEL_VALUES[code]
        reader.fail(name, f"field {name} is {value!r}; expected {LABEL_EXPECTED}")
        return None

    @staticmethod
    def _native_id(reader: RowReader, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            reader.fail("idx", "field idx must be an integer or a string")
            return None
        return str(value)
