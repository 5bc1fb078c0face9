"""The importers on the real, published preference data beside the project (skipped if absent).

Expected counts are computed here from the raw files with plain ``json`` reads, independently of
the importers' streaming readers.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from apps.datasets.importers import ImportOptions, PairRecord, PairStream, get_importer

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
HH_FILES = [
    ("hh-rlhf/helpful-base_test.jsonl.gz", 2354, "helpfulness"),
    ("hh-rlhf/harmless-base_test.jsonl.gz", 2312, "harmlessness"),
]
PANDALM = "pandalm/testset-v1.json"
LLMEVAL2 = "llmeval2/LLMEval2_benchmark.jsonl"


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not present (the shared data folder beside the project)")
    return path


def parse(fmt: str, path: Path, **options: Any) -> tuple[list[PairRecord], PairStream]:
    with path.open("rb") as fileobj:
        stream = get_importer(fmt, ImportOptions(source_name=path.name, **options)).parse(fileobj)
        records = list(stream)
    assert stream.problems == []
    return records, stream


@pytest.mark.parametrize(("relative", "rows", "domain"), HH_FILES)
def test_hh_rlhf_real_file(relative: str, rows: int, domain: str) -> None:
    path = data_file(relative)
    with gzip.open(path, "rt", encoding="utf-8") as raw:
        source = [json.loads(line) for line in raw if line.strip()]
    assert len(source) == rows
    identical = sum(1 for row in source if row["chosen"] == row["rejected"])

    records, stream = parse("hh-rlhf", path)
    assert stream.summary.rows == rows
    assert stream.summary.skipped == Counter(
        {"identical responses": identical} if identical else {}
    )
    assert stream.summary.duplicates == 0
    assert len(records) == rows - identical
    assert {record.domain for record in records} == {domain}

    share_a = sum(record.gold_label == "A" for record in records) / len(records)
    assert 0.47 < share_a < 0.53, share_a

    for record in records:
        row = source[record.line - 1]
        chosen, rejected = (
            (record.response_a, record.response_b)
            if record.gold_label == "A"
            else (record.response_b, record.response_a)
        )
        for dialogue, reply in ((row["chosen"], chosen), (row["rejected"], rejected)):
            assert dialogue.strip().startswith(record.prompt)
            assert dialogue.rstrip().endswith(reply)
            middle = dialogue.strip()[len(record.prompt) :]
            assert middle.startswith("\n\nAssistant:")
        assert record.metadata["turns"][0]["role"] == "human"
        assert record.metadata["turns"][-1]["role"] == "human"

    # The naive split (each dialogue at its own last marker) agrees wherever it is well formed.
    marker = "\n\nAssistant:"
    by_line = {record.line: record for record in records}
    for line, row in enumerate(source, start=1):
        cut_c, cut_r = row["chosen"].rfind(marker), row["rejected"].rfind(marker)
        if line in by_line and row["chosen"][:cut_c] == row["rejected"][:cut_r]:
            assert by_line[line].prompt == row["chosen"][:cut_c].strip()


@pytest.mark.parametrize(("relative", "rows", "domain"), HH_FILES)
def test_hh_rlhf_reimport_with_another_seed_adds_nothing(
    relative: str, rows: int, domain: str
) -> None:
    path = data_file(relative)
    first, _ = parse("hh-rlhf", path, seed=0)
    other, _ = parse("hh-rlhf", path, seed=1)
    assert {r.content_hash for r in first} == {r.content_hash for r in other}
    flipped = sum(a.gold_label != b.gold_label for a, b in zip(first, other, strict=True))
    assert 0.4 < flipped / len(first) < 0.6


def test_pandalm_real_file() -> None:
    path = data_file(PANDALM)
    source = json.loads(path.read_text(encoding="utf-8"))
    records, stream = parse("pandalm", path)
    assert len(source) == 999
    assert len(records) == 999
    assert stream.summary.as_dict()["skipped"] == {}
    assert [record.external_id for record in records] == [str(row["idx"]) for row in source]

    names = ("annotator1", "annotator2", "annotator3")
    meaning = {0: "tie", 1: "A", 2: "B"}
    for record, row in zip(records, source, strict=True):
        expected = [meaning[row[name]] for name in names]
        assert [choice for _, choice in record.annotations] == expected
        top, votes = Counter(expected).most_common(1)[0]
        assert record.gold_label == (top if votes >= 2 else "tie")
        assert record.prompt.startswith(row["instruction"].strip())
    assert sum(len(record.annotations) for record in records) == 2997

    booleans = sum(
        1 for row in source for name in ("response1", "response2") if isinstance(row[name], bool)
    )
    coerced = sum(len(record.metadata.get("coerced_fields", [])) for record in records)
    assert coerced == booleans > 0


def test_llmeval2_real_file() -> None:
    path = data_file(LLMEVAL2)
    with path.open(encoding="utf-8") as raw:
        source = [json.loads(line) for line in raw if line.strip()]
    identical = sum(1 for row in source if row["response1"].strip() == row["response2"].strip())
    records, stream = parse("llmeval2", path)

    assert len(source) == 2553
    assert stream.summary.rows == 2553
    assert stream.summary.skipped == Counter({"identical responses": identical})
    assert len(records) == 2553 - identical
    domains = Counter(record.domain for record in records)
    assert len(domains) == 15
    assert set(domains) == {row["dataset"] for row in source}

    meaning = {"model1": "A", "model2": "B", "TIE": "tie"}
    for record in records:
        row = source[record.line - 1]
        assert record.gold_label == meaning[row["human"]]
        assert (record.prompt, record.response_a, record.response_b) == (
            row["query"],
            row["response1"],
            row["response2"],
        )
        assert record.domain == row["dataset"]
