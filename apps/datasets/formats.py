"""The upload formats as their users see them: a title, what each reads, and an example file.

The example files (``apps/datasets/examples/``) are small samples written for this project; a
test imports each one through its importer, so an example can never drift from what the
importer accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apps.datasets.importers import FORMATS

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class UploadFormat:
    """One format of the upload form."""

    name: str  # the importer's ``format``
    title: str
    reads: str  # the fields or columns it reads, in one sentence
    pair_ids: str  # where a pair's id comes from
    example: str  # file name under EXAMPLES_DIR
    media_type: str

    @property
    def example_path(self) -> Path:
        return EXAMPLES_DIR / self.example


UPLOAD_FORMATS: dict[str, UploadFormat] = {
    f.name: f
    for f in (
        UploadFormat(
            name="jsonl",
            title="JSON Lines",
            reads="one object a line: prompt, response_a, response_b (required), label "
            "(A, B or tie), domain; other fields are kept as metadata",
            pair_ids="the id field",
            example="pairs.jsonl",
            media_type="application/jsonl",
        ),
        UploadFormat(
            name="csv",
            title="CSV with a header row",
            reads="the same columns as JSON Lines, in any order; other columns are kept",
            pair_ids="the id column",
            example="pairs.csv",
            media_type="text/csv",
        ),
        UploadFormat(
            name="hh-rlhf",
            title="Anthropic HH-RLHF",
            reads="chosen and rejected dialogues; the shared conversation becomes the prompt "
            "and the preferred reply lands on A or B by a seeded coin flip",
            pair_ids="the id field where a row has one, else the line number",
            example="hh-rlhf.jsonl",
            media_type="application/jsonl",
        ),
        UploadFormat(
            name="pandalm",
            title="PandaLM test set",
            reads="a JSON array: instruction and input, response1 and response2, and three "
            "annotators (0 tie, 1, 2) imported as annotator labels; gold is their majority",
            pair_ids="the idx field",
            example="pandalm.json",
            media_type="application/json",
        ),
        UploadFormat(
            name="llmeval2",
            title="LLMEval2 benchmark",
            reads="query, response1 and response2, human (model1, model2 or TIE) and dataset "
            "as the domain",
            pair_ids="the id field where a row has one, else the line number",
            example="llmeval2.jsonl",
            media_type="application/jsonl",
        ),
    )
}

missing = set(FORMATS) - set(UPLOAD_FORMATS)
if missing:  # an importer added without its description and example would be invisible
    raise RuntimeError(f"upload formats without a description: {sorted(missing)}")


def upload_formats() -> list[UploadFormat]:
    """Every format, in the importers' order."""
    return [UPLOAD_FORMATS[name] for name in FORMATS]
