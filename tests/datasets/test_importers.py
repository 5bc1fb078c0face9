"""The pair importers on small files written here: bad input (table driven) and good input."""

from __future__ import annotations

import gzip
import io
import json
import random
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.datasets.importers import (
    FORMATS,
    ImportFailed,
    ImportOptions,
    PairRecord,
    PairStream,
    get_importer,
    parse_pairs,
)
from apps.datasets.importers.hh_rlhf import chosen_goes_first, domain_from_name, split_turns
from apps.datasets.importers.identity import pair_content_hash
from apps.datasets.importers.reading import CHUNK_BYTES

FIVE_MB = 5 * 1024 * 1024


def jsonl(*rows: Any) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def pair(prompt: Any = "p", a: Any = "x", b: Any = "y", **extra: Any) -> dict[str, Any]:
    return {"prompt": prompt, "response_a": a, "response_b": b, **extra}


def hh(prompt: str, chosen: str, rejected: str) -> dict[str, str]:
    return {
        "chosen": f"{prompt}\n\nAssistant: {chosen}",
        "rejected": f"{prompt}\n\nAssistant: {rejected}",
    }


def panda(idx: int = 0, labels: tuple[Any, Any, Any] = (1, 1, 2), **extra: Any) -> dict:
    row = {
        "idx": idx,
        "motivation_app": "Gmail",
        "cmp_key": "m1_m2",
        "instruction": "Summarise.",
        "input": "Some text.",
        "response1": f"first {idx}",
        "response2": f"second {idx}",
        "annotator1": labels[0],
        "annotator2": labels[1],
        "annotator3": labels[2],
    }
    row.update(extra)
    return row


def panda_file(*rows: dict) -> bytes:
    return json.dumps(list(rows), indent=4).encode()


def evalrow(human: Any = "model1", **extra: Any) -> dict[str, Any]:
    row = {"query": "q", "response1": "r1", "response2": "r2", "human": human, "dataset": "webgpt"}
    row.update(extra)
    return row


def truncated_gzip() -> tuple[bytes, int]:
    """A gzip file cut in half, and the line on which its data breaks off."""
    rng = random.Random(7)
    rows = [pair("".join(rng.choices("abcdefgh", k=200)), "x", "y") for _ in range(300)]
    packed = gzip.compress(jsonl(*rows))
    cut = packed[: len(packed) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return cut, readable.count(b"\n") + 1


def run(fmt: str, data: bytes, **options: Any) -> tuple[list[PairRecord], PairStream]:
    stream = parse_pairs(io.BytesIO(data), fmt, ImportOptions(**options))
    return list(stream), stream


@dataclass
class Bad:
    """A bad file and the first problem it must report."""

    id: str
    fmt: str
    data: bytes
    line: int | None
    field_name: str | None
    message: str
    options: dict[str, Any] = field(default_factory=dict)


TRUNCATED_GZ, TRUNCATED_GZ_LINE = truncated_gzip()
CSV_HEADER = b"prompt,response_a,response_b,label,domain\n"

BAD_INPUT = [
    Bad("broken JSON on line 3", "jsonl", jsonl(pair(), pair("q")) + b'{"prompt": "p",\n', 3,
        None, "invalid JSON"),
    Bad("missing field", "jsonl", jsonl(pair(), {"prompt": "p", "response_a": "x"}), 2,
        "response_b", "field response_b is missing"),
    Bad("empty field", "jsonl", jsonl(pair(prompt="   ")), 1, "prompt", "field prompt is empty"),
    Bad("null field", "jsonl", jsonl(pair(a=None)), 1, "response_a", "field response_a is null"),
    Bad("label outside A/B/tie", "jsonl", jsonl(pair(), pair("q", label="C")), 2, "label",
        "expected A, B or tie"),
    Bad("label of the wrong type", "jsonl", jsonl(pair(label=1)), 1, "label", "a number"),
    Bad("invalid UTF-8 on line 2", "jsonl",
        jsonl(pair()) + b'{"prompt": "caf\xe9", "response_a": "x", "response_b": "y"}\n', 2,
        None, "invalid UTF-8"),
    Bad("5 MB response", "jsonl", jsonl(pair(a="x" * FIVE_MB)), 1, "response_a",
        "field response_a is 5,242,880 characters; the limit is 1,000,000"),
    Bad("truncated .gz", "jsonl", TRUNCATED_GZ, TRUNCATED_GZ_LINE, None, "truncated or corrupt"),
    Bad("empty file", "jsonl", b"", None, None, "the file is empty"),
    Bad("blank lines only", "jsonl", b"\n  \n\r\n", None, None, "the file is empty"),
    Bad("non-object JSON line", "jsonl", jsonl(pair(), ["p", "x", "y"]), 2, None,
        "expected a JSON object, got an array"),
    Bad("wrong field type", "jsonl", jsonl(pair(prompt=42)), 1, "prompt",
        "field prompt must be a string, not a number"),
    Bad("NaN is not JSON", "jsonl", b'{"prompt": "p", "response_a": "x", "response_b": NaN}\n',
        1, None, "NaN is not valid JSON"),
    Bad("NUL character", "jsonl", jsonl(pair(b="y\x00")), 1, "response_b", "NUL character"),
    Bad("unpaired surrogate", "jsonl",
        b'{"prompt": "p\\ud800", "response_a": "x", "response_b": "y"}\n', 1, "prompt",
        "surrogate"),
    Bad("domain too long", "jsonl", jsonl(pair(domain="d" * 101)), 1, "domain",
        "the domain is 101 characters; the limit is 100"),
    Bad("UTF-16 file", "jsonl", "\ufeff".encode("utf-16-le") + jsonl(pair()), 1, None,
        "UTF-16"),
    Bad("line over the byte limit", "jsonl", jsonl(pair(), pair(a="x" * 500)), 2, None,
        "the line is longer than 300 bytes", {"max_line_bytes": 300}),
    Bad("too many pairs", "jsonl", jsonl(pair("1"), pair("2"), pair("3")), 3, None,
        "more than 2 pairs", {"max_pairs": 2}),
    Bad("csv header only", "csv", CSV_HEADER, None, None, "the file is empty"),
    Bad("csv missing column", "csv", b"prompt,response_a,label\np,x,A\n", 1, "response_b",
        "column response_b is missing"),
    Bad("csv bad label after a multi-line cell", "csv",
        CSV_HEADER + b'"line one\nline two",x,y,A,d\np,x,y,maybe,d\n', 4, "label",
        "field label is 'maybe'"),
    Bad("csv row with too many columns", "csv", CSV_HEADER + b"p,x,y,A,d\np,x,y,A,d,extra\n",
        3, None, "the row has 6 columns; the header has 5"),
    Bad("csv empty cell", "csv", CSV_HEADER + b"p,,y,A,d\n", 2, "response_a",
        "field response_a is empty"),
    Bad("csv invalid UTF-8", "csv", CSV_HEADER + b"p,x,y,A,d\np,\xff\xfe,y,A,d\n", 3, None,
        "invalid UTF-8"),
    Bad("csv unterminated quote", "csv", CSV_HEADER + b'p,"x,y,A,d\n', 2, None,
        "malformed CSV"),
    Bad("hh-rlhf without an assistant turn", "hh-rlhf",
        jsonl({"chosen": "\n\nHuman: hi", "rejected": "\n\nHuman: hi\n\nAssistant: no"}), 1,
        "chosen", "no assistant turn"),
    Bad("hh-rlhf mismatched prefix", "hh-rlhf",
        jsonl(hh("\n\nHuman: hi", "a", "b"), hh("\n\nHuman: one", "a", "b") | {
            "rejected": "\n\nHuman: two\n\nAssistant: b"}), 2, "rejected",
        "differ before their last assistant turn"),
    Bad("hh-rlhf missing rejected", "hh-rlhf", jsonl({"chosen": "\n\nHuman: hi\n\nAssistant: a"}),
        1, "rejected", "field rejected is missing"),
    Bad("hh-rlhf only identical rows", "hh-rlhf", jsonl(hh("\n\nHuman: hi", "same", "same")),
        None, None, "all 1 rows were skipped"),
    Bad("pandalm not an array", "pandalm", b'{"idx": 0}', 1, None, "expected a JSON array"),
    Bad("pandalm bad annotator label", "pandalm",
        panda_file(panda(0), panda(1, labels=(1, 3, 1))), 14, "annotator2",
        "field annotator2 is 3; expected 0 (tie), 1 (response1) or 2 (response2)"),
    Bad("pandalm missing annotator", "pandalm", panda_file(panda(0, annotator3=None)), 2,
        "annotator3", "expected 0 (tie)"),
    Bad("pandalm element not an object", "pandalm", b'[\n  "just text"\n]', 2, None,
        "expected a JSON object as array element, got a string"),
    Bad("pandalm broken JSON inside an element", "pandalm",
        b'[\n{"idx": 0,\n "instruction": "i",\n "response1" "x"}\n]', 4, None, "invalid JSON"),
    Bad("pandalm array not closed", "pandalm", panda_file(panda(0))[:-2], 13, None,
        "the JSON array is not closed"),
    Bad("pandalm trailing comma", "pandalm", panda_file(panda(0))[:-2] + b",\n]", 14, None,
        "expected an array element after ','"),
    Bad("pandalm invalid UTF-8", "pandalm", b'[\n\n\n{"instruction": "\xc3\x28"}]', 4, None,
        "invalid UTF-8"),
    Bad("pandalm empty instruction and input", "pandalm",
        panda_file(panda(0, instruction=" ", input="")), 2, "instruction", "is empty"),
    Bad("llmeval2 bad human value", "llmeval2", jsonl(evalrow(), evalrow("model3")), 2, "human",
        "field human is 'model3'; expected model1, model2 or TIE"),
    Bad("llmeval2 missing human", "llmeval2", jsonl({"query": "q", "response1": "a",
        "response2": "b", "dataset": "d"}), 1, "human", "field human is missing"),
    Bad("llmeval2 missing response", "llmeval2", jsonl(evalrow(response2=None)), 1, "response2",
        "field response2 is null"),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUT, ids=[case.id for case in BAD_INPUT])
def test_bad_input_reports_the_first_problem_with_line_and_field(case: Bad) -> None:
    importer = get_importer(case.fmt, ImportOptions(**case.options))
    with pytest.raises(ImportFailed) as failure:
        importer.parse_all(io.BytesIO(case.data))
    first = failure.value.problems[0]
    assert (first.line, first.field) == (case.line, case.field_name), first
    assert case.message in first.message
    assert failure.value.as_dicts()[0] == {
        "line": case.line,
        "field": case.field_name,
        "message": first.message,
    }


def test_the_bad_input_table_covers_every_format() -> None:
    assert len(BAD_INPUT) >= 20
    assert {case.fmt for case in BAD_INPUT} == set(FORMATS)


@pytest.mark.parametrize(
    ("data", "expected_prompts"),
    [
        pytest.param(b"\xef\xbb\xbf" + jsonl(pair("one"), pair("two")), ["one", "two"], id="BOM"),
        pytest.param(jsonl(pair("one"), pair("two")).replace(b"\n", b"\r\n"), ["one", "two"],
                     id="CRLF"),
        pytest.param(gzip.compress(jsonl(pair("one"), pair("two"))), ["one", "two"], id="gzip"),
        pytest.param(b"\n" + jsonl(pair("one")) + b"\n\n" + jsonl(pair("two")) + b"\n",
                     ["one", "two"], id="blank lines"),
        pytest.param(gzip.compress(b"\xef\xbb\xbf" + jsonl(pair("one")).replace(b"\n", b"\r\n")),
                     ["one"], id="gzip BOM CRLF"),
    ],
)  # fmt: skip
def test_tolerated_input_imports(data: bytes, expected_prompts: list[str]) -> None:
    records, stream = run("jsonl", data)
    assert stream.problems == []
    assert [record.prompt for record in records] == expected_prompts


GOOD_FILES = {
    "jsonl": jsonl(pair("one", label="A"), pair("two", label="B")),
    "csv": CSV_HEADER + b"one,x,y,A,d\ntwo,x,y,B,d\n",
    "hh-rlhf": jsonl(hh("\n\nHuman: one", "x", "y"), hh("\n\nHuman: two", "x", "y")),
    "pandalm": panda_file(panda(0), panda(1)),
    "llmeval2": jsonl(evalrow(query="one"), evalrow(query="two")),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_plain_and_gzip_alike(fmt: str) -> None:
    plain, _ = run(fmt, GOOD_FILES[fmt])
    packed, _ = run(fmt, gzip.compress(GOOD_FILES[fmt]))
    assert len(plain) == 2
    assert plain == packed


def test_an_uploaded_file_is_read() -> None:
    upload = SimpleUploadedFile("pairs.jsonl.gz", gzip.compress(GOOD_FILES["jsonl"]))
    records = get_importer("jsonl").parse_all(upload)
    assert [record.prompt for record in records] == ["one", "two"]


def test_problems_are_collected_up_to_the_limit_with_line_numbers() -> None:
    rows = [pair(label="X") if n % 2 else pair(f"p{n}") for n in range(60)]
    records, stream = run("jsonl", jsonl(*rows))
    assert [record.line for record in records] == [1]
    assert len(stream.problems) == 20
    assert stream.truncated
    assert [problem.line for problem in stream.problems] == list(range(2, 41, 2))
    assert {problem.field for problem in stream.problems} == {"label"}


def test_several_problems_in_one_row_are_all_reported() -> None:
    with pytest.raises(ImportFailed) as failure:
        get_importer("jsonl").parse_all(io.BytesIO(jsonl({"prompt": "", "label": "?"})))
    fields = [problem.field for problem in failure.value.problems]
    assert fields == ["prompt", "response_a", "response_b", "label"]
    assert {problem.line for problem in failure.value.problems} == {1}
    assert not failure.value.truncated


def test_no_record_is_yielded_after_the_first_problem() -> None:
    data = jsonl(pair("one"), pair("two"), pair("three", label="?"), pair("four"), pair("five"))
    records, stream = run("jsonl", data)
    assert [record.prompt for record in records] == ["one", "two"]
    assert [(problem.line, problem.field) for problem in stream.problems] == [(3, "label")]
    assert stream.summary.rows == 5


class CountingReader(io.RawIOBase):
    """A non-seekable binary source that records how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(size)
        self.bytes_read += len(chunk)
        return chunk


@pytest.mark.parametrize(
    ("fmt", "make_file"),
    [
        ("jsonl", lambda n: jsonl(*(pair(f"prompt {i}", "x" * 100, "y") for i in range(n)))),
        ("pandalm", lambda n: panda_file(*(panda(i) for i in range(n)))),
        (
            "csv",
            lambda n: CSV_HEADER + b"".join(b"p%d,%s,y,A,d\n" % (i, b"x" * 80) for i in range(n)),
        ),
    ],
)
def test_importers_stream_rather_than_read_the_whole_file(fmt: str, make_file: Any) -> None:
    data = make_file(8_000)
    assert len(data) > 10 * CHUNK_BYTES
    source = CountingReader(data)
    stream = get_importer(fmt).parse(source)  # type: ignore[arg-type]
    first = next(stream)
    assert first.line in (1, 2, 3)
    assert source.bytes_read <= 3 * CHUNK_BYTES
    rest = list(stream)
    assert stream.problems == []
    assert 1 + len(rest) == 8_000
    assert source.bytes_read == len(data)


def test_a_gzip_stream_that_cannot_seek_is_read() -> None:
    source = CountingReader(gzip.compress(jsonl(pair("one"), pair("two"))))
    records = get_importer("jsonl").parse_all(source)  # type: ignore[arg-type]
    assert [record.prompt for record in records] == ["one", "two"]


def test_a_text_mode_file_is_refused() -> None:
    with pytest.raises(TypeError, match="binary mode"):
        get_importer("jsonl").parse_all(io.StringIO("{}"))  # type: ignore[arg-type]


def test_unknown_format_and_bad_field_map_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown import format 'xml'"):
        get_importer("xml")
    with pytest.raises(ValueError, match="unknown field mapping target"):
        get_importer("jsonl", ImportOptions(field_map={"question": "q"}))
    with pytest.raises(ValueError, match="for more than one target"):
        get_importer("csv", ImportOptions(field_map={"prompt": "text", "response_a": "text"}))


# Good input, format by format.


def test_jsonl_fields_labels_domains_ids_and_metadata() -> None:
    data = jsonl(
        pair("p1", label="a", domain="code", id="q-1", source="forum"),
        pair("p2", label="TIE", metadata={"split": "test"}),
        pair("p3", label=None, id=17),
        pair("p4", label=" B ", domain=""),
    )
    records, stream = run("jsonl", data, domain="general-knowledge")
    assert stream.problems == []
    assert [r.gold_label for r in records] == ["A", "tie", None, "B"]
    assert [r.domain for r in records] == ["code"] + ["general-knowledge"] * 3
    assert [r.external_id for r in records] == ["q-1", "line-2", "17", "line-4"]
    assert records[0].metadata == {"source": "forum"}
    assert records[1].metadata == {"split": "test"}
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert records[0].annotations == ()


def test_jsonl_domain_defaults_to_general() -> None:
    records, _ = run("jsonl", jsonl(pair()))
    assert records[0].domain == "general"


def test_field_mapping_renames_fields_and_columns() -> None:
    mapping = {"prompt": "question", "response_a": "left", "response_b": "right", "label": "win"}
    row = {"question": "q", "left": "l", "right": "r", "win": "B", "prompt": "kept"}
    records, _ = run("jsonl", jsonl(row), field_map=mapping)
    assert (records[0].prompt, records[0].response_a, records[0].response_b) == ("q", "l", "r")
    assert records[0].gold_label == "B"
    assert records[0].metadata == {"prompt": "kept"}

    csv_data = b"question,left,right,win\nq,l,r,tie\n"
    records, _ = run("csv", csv_data, field_map=mapping)
    assert (records[0].prompt, records[0].gold_label) == ("q", "tie")


def test_csv_quoted_multiline_cells_crlf_and_extra_columns() -> None:
    data = (
        b"\xef\xbb\xbfprompt,response_a,response_b,label,domain,note\r\n"
        b'"first line\r\nsecond line","say ""hi""",y,A,code,n1\r\n'
        b"\r\n"
        b"p2,x,y,,,\r\n"
    )
    records, stream = run("csv", data)
    assert stream.problems == []
    assert records[0].prompt == "first line\nsecond line"
    assert records[0].response_a == 'say "hi"'
    assert [r.line for r in records] == [2, 5]
    assert [r.gold_label for r in records] == ["A", None]
    assert [r.domain for r in records] == ["code", "general"]
    assert [r.metadata for r in records] == [{"note": "n1"}, {"note": ""}]


def test_csv_cell_over_the_field_limit_gets_the_field_message() -> None:
    data = CSV_HEADER + b"p,x,%s,A,d\n" % (b"y" * 300_000)
    with pytest.raises(ImportFailed) as failure:
        get_importer("csv", ImportOptions(max_field_chars=100_000)).parse_all(io.BytesIO(data))
    problem = failure.value.problems[0]
    assert (problem.line, problem.field) == (2, "response_b")
    assert "300,000 characters; the limit is 100,000" in problem.message


def test_duplicates_in_a_file_are_counted_and_the_first_wins() -> None:
    data = jsonl(pair("p", label="A"), pair(" p ", label="B"), pair("p", "y", "x", label="B"))
    records, stream = run("jsonl", data)
    assert [(r.line, r.gold_label) for r in records] == [(1, "A"), (3, "B")]
    assert stream.summary.duplicates == 1
    assert stream.summary.as_dict() == {
        "rows": 3,
        "records": 2,
        "duplicates": 1,
        "skipped": {},
    }


def test_identical_responses_are_skipped_and_counted() -> None:
    records, stream = run("jsonl", jsonl(pair(a="same", b="same "), pair()))
    assert [r.line for r in records] == [2]
    assert stream.summary.skipped == Counter({"identical responses": 1})


def test_reimport_yields_the_same_hashes() -> None:
    data = jsonl(*(pair(f"p{i}", f"a{i}", f"b{i}", domain="d") for i in range(50)))
    first, _ = run("jsonl", data)
    again, _ = run("jsonl", data)
    assert [r.content_hash for r in first] == [r.content_hash for r in again]
    assert len({r.content_hash for r in first}) == 50


def test_content_hash_tells_apart_what_matters() -> None:
    base = pair_content_hash("p", "a", "b", "d")
    assert pair_content_hash("p\r\n", "a ", "b", "d") == base
    assert pair_content_hash("p", "b", "a", "d") != base
    assert pair_content_hash("p", "b", "a", "d", ordered=False) == pair_content_hash(
        "p", "a", "b", "d", ordered=False
    )
    assert pair_content_hash("p", "a", "b", "e") != base
    assert pair_content_hash("p", "a", "b", "d", "7") != base
    assert pair_content_hash("pa", "", "b", "d") != pair_content_hash("p", "a", "b", "d")


# HH-RLHF


def test_hh_rlhf_splits_the_shared_prefix_into_prompt_and_last_turns() -> None:
    prompt = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke"
    data = jsonl(hh(prompt, "A funny joke.", "No."))
    records, stream = run("hh-rlhf", data, source_name="helpful-base_test.jsonl.gz")
    (record,) = records
    assert record.prompt == "Human: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke"
    assert {record.response_a, record.response_b} == {"A funny joke.", "No."}
    chosen_side = "A" if record.response_a == "A funny joke." else "B"
    assert record.gold_label == chosen_side
    assert record.domain == "helpfulness"
    assert record.metadata["turns"] == [
        {"role": "human", "text": "Hi"},
        {"role": "assistant", "text": "Hello!"},
        {"role": "human", "text": "Tell me a joke"},
    ]
    assert stream.problems == []


def test_hh_rlhf_final_turn_containing_an_assistant_marker() -> None:
    prompt = "\n\nHuman: How much do solar panels cost?"
    row = {
        "chosen": f"{prompt}\n\nAssistant: Umm. Just a second...\n\nAssistant: About $50.",
        "rejected": f"{prompt}\n\nAssistant: Visit a web site.",
    }
    (record,) = get_importer("hh-rlhf").parse_all(io.BytesIO(jsonl(row)))
    assert record.prompt == "Human: How much do solar panels cost?"
    chosen = record.response_a if record.gold_label == "A" else record.response_b
    assert chosen == "Umm. Just a second...\n\nAssistant: About $50."


def test_hh_rlhf_keeps_an_empty_final_turn() -> None:
    row = {"chosen": "\n\nHuman: rob a bank?\n\nAssistant: ", "rejected": hh("\n\nHuman: rob a "
           "bank?", "", "Sure, here is how.")["rejected"]}  # fmt: skip
    (record,) = get_importer("hh-rlhf").parse_all(io.BytesIO(jsonl(row)))
    chosen = record.response_a if record.gold_label == "A" else record.response_b
    assert chosen == ""


def test_hh_rlhf_coin_flip_is_reproducible_seeded_and_balanced() -> None:
    rows = [hh(f"\n\nHuman: question {i}", f"good {i}", f"bad {i}") for i in range(2000)]
    data = jsonl(*rows)
    first, _ = run("hh-rlhf", data, seed=0)
    again, _ = run("hh-rlhf", data, seed=0)
    other, _ = run("hh-rlhf", data, seed=1)
    labels = [r.gold_label for r in first]
    assert labels == [r.gold_label for r in again]
    assert labels != [r.gold_label for r in other]
    share_a = labels.count("A") / len(labels)
    assert 0.45 < share_a < 0.55  # 2000 fair flips: 4.5 standard deviations either side
    # Positions chosen by the importer are not part of the identity: another seed adds nothing.
    assert {r.content_hash for r in first} == {r.content_hash for r in other}
    for record in first:
        chosen = record.response_a if record.gold_label == "A" else record.response_b
        assert chosen.startswith("good")
    assert chosen_goes_first(0, "p", "c", "r") == chosen_goes_first(0, "p", "c", "r")


@pytest.mark.parametrize(
    ("name", "domain"),
    [
        ("helpful-base_test.jsonl.gz", "helpfulness"),
        ("uploads/harmless-base_test.jsonl.gz", "harmlessness"),
        ("red-team-attempts.jsonl", "harmlessness"),
        ("pairs.jsonl", None),
        (None, None),
    ],
)
def test_hh_rlhf_domain_from_file_name(name: str | None, domain: str | None) -> None:
    assert domain_from_name(name) == domain


def test_hh_rlhf_domain_option_beats_the_file_name() -> None:
    data = jsonl(hh("\n\nHuman: q", "a", "b"))
    records, _ = run("hh-rlhf", data, source_name="helpful-base.jsonl", domain="custom")
    assert records[0].domain == "custom"
    records, _ = run("hh-rlhf", data, source_name="pairs.jsonl")
    assert records[0].domain == "general"


def test_split_turns_keeps_text_before_the_first_marker() -> None:
    assert split_turns("Preamble\n\nHuman: q") == [
        {"role": "text", "text": "Preamble"},
        {"role": "human", "text": "q"},
    ]


# PandaLM


def test_pandalm_prompt_annotations_and_majority_gold() -> None:
    data = panda_file(
        panda(0, labels=(1, 1, 2)),
        panda(1, labels=("2", "0", "2"), input=""),
        panda(2, labels=(0, 1, 2)),
        panda(3, labels=(0, 0, 1), response1=True),
    )
    records, stream = run("pandalm", data)
    assert stream.problems == []
    assert [r.gold_label for r in records] == ["A", "B", "tie", "tie"]
    assert records[0].prompt == "Summarise.\n\nSome text."
    assert records[1].prompt == "Summarise."
    assert records[1].annotations == (
        ("pandalm-annotator1", "B"),
        ("pandalm-annotator2", "tie"),
        ("pandalm-annotator3", "B"),
    )
    assert records[1].metadata["labels"] == {
        "annotator1": "2",
        "annotator2": "0",
        "annotator3": "2",
    }
    assert records[0].metadata["motivation_app"] == "Gmail"
    assert [r.external_id for r in records] == ["0", "1", "2", "3"]
    assert [r.line for r in records] == [2, 14, 26, 38]
    assert records[3].response_a == "true"
    assert records[3].metadata["coerced_fields"] == ["response1"]
    assert {r.domain for r in records} == {"general"}


def test_pandalm_rows_with_the_same_texts_and_different_ids_are_kept() -> None:
    records, stream = run(
        "pandalm",
        panda_file(panda(0), panda(1) | {"response1": "first 0", "response2": "second 0"}),
    )
    assert len(records) == 2
    assert stream.summary.duplicates == 0


def test_pandalm_elements_split_across_chunks_keep_their_lines() -> None:
    # Each element is larger than a read chunk, so every element spans several reads.
    rows = [panda(i, response1="w" * (CHUNK_BYTES + 17 * i)) for i in range(6)]
    data = b"\xef\xbb\xbf" + panda_file(*rows).replace(b"\n", b"\r\n")
    records, stream = run("pandalm", data)
    assert stream.problems == []
    assert [r.line for r in records] == [2 + 12 * i for i in range(6)]
    assert [len(r.response_a) for r in records] == [CHUNK_BYTES + 17 * i for i in range(6)]


def test_pandalm_multibyte_characters_across_chunk_boundaries() -> None:
    text = "é€😀" * (CHUNK_BYTES // 3)
    records, stream = run("pandalm", panda_file(panda(0, response2=text)))
    assert stream.problems == []
    assert records[0].response_b == text


def test_pandalm_compact_and_gzip_arrays() -> None:
    data = json.dumps([panda(0), panda(1)], separators=(",", ":")).encode()
    assert [r.line for r in run("pandalm", data)[0]] == [1, 1]
    assert [r.external_id for r in run("pandalm", gzip.compress(data))[0]] == ["0", "1"]


# LLMEval2


def test_llmeval2_labels_domains_and_empty_query() -> None:
    data = jsonl(
        evalrow("model1"),
        evalrow("model2", dataset="summeval"),
        evalrow("TIE", query="", dataset="mt-bench", response2="user: hi\n\nassistant: yo"),
        evalrow("tie", dataset="", extra="kept"),
    )
    records, stream = run("llmeval2", data, domain="fallback")
    assert stream.problems == []
    assert [r.gold_label for r in records] == ["A", "B", "tie", "tie"]
    assert [r.domain for r in records] == ["webgpt", "summeval", "mt-bench", "fallback"]
    assert records[2].prompt == ""
    assert records[3].metadata == {"extra": "kept"}


def test_llmeval2_keeps_both_orders_of_one_comparison() -> None:
    records, stream = run(
        "llmeval2", jsonl(evalrow("model1"), evalrow("model2", response1="r2", response2="r1"))
    )
    assert len(records) == 2
    assert stream.summary.duplicates == 0


# Throughput (printed, not asserted: the machine is shared).


@pytest.mark.slow
def test_parse_throughput_on_100k_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]

    def text(n: int) -> str:
        return " ".join(rng.choices(words, k=n))

    rows = [
        pair(text(30), text(120), text(120), label=rng.choice("AB"), domain=f"d{i % 7}")
        for i in range(100_000)
    ]
    data = jsonl(*rows)
    started = time.perf_counter()
    stream = parse_pairs(io.BytesIO(data), "jsonl")
    count = sum(1 for _ in stream)
    elapsed = time.perf_counter() - started
    assert stream.problems == []
    assert count == 100_000
    with capsys.disabled():
        print(
            f"\nparsed 100,000 pairs ({len(data) / 1e6:.1f} MB) in {elapsed:.2f} s: "
            f"{100_000 / elapsed:,.0f} pairs/s, {len(data) / 1e6 / elapsed:.1f} MB/s"
        )
