"""LLMEval2 benchmark: one JSON object a line.

Fields and their mapping::

    {"query": "...", "response1": "...", "response2": "...",
     "human": "model1" | "model2" | "TIE", "dataset": "summeval"}

* ``prompt``: ``query``. It may be empty: in the published file the 275 ``mt-bench`` rows have
  an empty query and carry the whole conversation, user turns included, in each response.
* ``response_a`` / ``response_b``: ``response1`` / ``response2``; they may be empty (a few
  ``webgpt`` answers are), the human label still holds.
* ``gold_label``: ``human``: ``model1`` -> ``A``, ``model2`` -> ``B``, ``TIE`` -> ``tie``
  (any case); required.
* ``domain``: ``dataset`` (15 source datasets in the published file), else the ``domain``
  option, else ``general``. ``external_id``: an ``id`` field where the file has one (a string or
  an integer), else the line number. Other fields go to ``metadata``. The file may be
  gzip-compressed.
"""

from __future__ import annotations

from typing import Any

from apps.datasets.importers.base import (
    JsonLinesImporter,
    Label,
    PairRecord,
    RowReader,
    Skipped,
    make_record,
    require_object,
)
from apps.datasets.importers.mapping import native_id_of

LABEL_VALUES: dict[str, Label] = {"model1": "A", "model2": "B", "tie": "tie"}
LABEL_EXPECTED = "model1, model2 or TIE"
SOURCE_FIELDS = ("query", "response1", "response2", "human", "dataset", "id")


class LlmEval2Importer(JsonLinesImporter):
    """LLMEval2's human-labelled pairs, with the source dataset as the domain."""

    format = "llmeval2"

    def record(self, line: int, row: Any) -> PairRecord | Skipped:
        """Map one object to a pair."""
        row = require_object(row)
        reader = RowReader(row, self.options)
        prompt = reader.text("query", allow_empty=True)
        response_a = reader.text("response1", allow_empty=True)
        response_b = reader.text("response2", allow_empty=True)
        human = row.get("human")
        gold_label: Label | None = None
        if human is None:
            reader.fail("human", f"field human is {'null' if 'human' in row else 'missing'}")
        elif isinstance(human, str) and not human.strip():
            reader.fail("human", "field human is empty")
        else:
            gold_label = reader.label("human", human, LABEL_VALUES, LABEL_EXPECTED)
        dataset = reader.text("dataset", required=False)
        metadata = {key: value for key, value in row.items() if key not in SOURCE_FIELDS}
        return make_record(
            reader,
            line=line,
            prompt=prompt,
            response_a=response_a,
            response_b=response_b,
            domain=reader.domain(dataset, field_name="dataset"),
            gold_label=gold_label,
            metadata=reader.metadata(metadata),
            native_id=native_id_of(reader, "id", row.get("id")),
        )
