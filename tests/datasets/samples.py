"""Small import files in every format, written for these tests, with what each should import.

Each sample states its expectation (pairs created, duplicates, skipped, annotator labels) from
how the file was written, so the tests compare the import with the file's design.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@dataclass(frozen=True)
class Sample:
    """An import file, its format and upload name, and what importing it must give."""

    format: str
    name: str
    content: bytes
    created: int
    duplicates: int = 0
    skipped: int = 0
    annotations: int = 0
    domains: dict[str, int] = field(default_factory=dict)


def _jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


JSONL_ROWS: list[dict[str, object]] = [
    {
        "id": "j1",
        "prompt": "Name a prime.",
        "response_a": "7",
        "response_b": "8",
        "label": "A",
        "domain": "math",
    },
    {
        "id": "j2",
        "prompt": "Capital of France?",
        "response_a": "Lyon",
        "response_b": "Paris",
        "label": "B",
        "domain": "geography",
    },
    {
        "id": "j3",
        "prompt": "Pick a colour.",
        "response_a": "Red",
        "response_b": "Blue",
        "label": "tie",
        "domain": "math",
    },
    # No label and no domain: the upload's domain applies, or "general".
    {"id": "j4", "prompt": "Say hello.", "response_a": "Hello!", "response_b": "Go away."},
    # The same pair as j1 again: a duplicate within the file.
    {
        "id": "j1",
        "prompt": "Name a prime.",
        "response_a": "7",
        "response_b": "8",
        "label": "A",
        "domain": "math",
    },
    # Two identical responses carry no preference: skipped.
    {"id": "j6", "prompt": "Echo.", "response_a": "same", "response_b": "same", "label": "A"},
]
JSONL = Sample(
    "jsonl",
    "pairs.jsonl",
    _jsonl(JSONL_ROWS),
    created=4,
    duplicates=1,
    skipped=1,
    domains={"math": 2, "geography": 1, "general": 1},
)

CSV = Sample(
    "csv",
    "pairs.csv",
    (
        b"id,prompt,response_a,response_b,label,domain,source\r\n"
        b'c1,"Write a haiku\r\nabout rain","Soft rain on the roof","Rain is wet",A,poetry,web\r\n'
        b"c2,Add 2 and 2,5,4,B,math,web\r\n"
        b"c3,Best season?,Spring,Autumn,,opinion,web\r\n"
    ),
    created=3,
    domains={"poetry": 1, "math": 1, "opinion": 1},
)


def _dialogue(human: str, assistant: str) -> str:
    return f"\n\nHuman: {human}\n\nAssistant: {assistant}"


HH_RLHF = Sample(
    "hh-rlhf",
    "helpful-base_sample.jsonl",
    _jsonl(
        [
            {
                "chosen": _dialogue("How do I boil an egg?", "Simmer it for eight minutes."),
                "rejected": _dialogue("How do I boil an egg?", "Eggs are laid by hens."),
            },
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello! How can I help?"
                + _dialogue("Recommend a book.", "Try 'The Hobbit'."),
                "rejected": "\n\nHuman: Hi\n\nAssistant: Hello! How can I help?"
                + _dialogue("Recommend a book.", "No."),
            },
            {
                "chosen": _dialogue("Tell me a fact.", "Honey never spoils."),
                "rejected": _dialogue("Tell me a fact.", "I don't know."),
            },
        ]
    ),
    created=3,
    domains={"helpfulness": 3},
)
HH_RLHF_GZ = Sample(
    "hh-rlhf",
    "harmless-base_sample.jsonl.gz",
    gzip.compress(HH_RLHF.content),
    created=3,
    domains={"harmlessness": 3},
)

PANDALM = Sample(
    "pandalm",
    "testset.json",
    json.dumps(
        [
            {
                "idx": 0,
                "motivation_app": "Grammarly",
                "cmp_key": "a_b",
                "instruction": "Fix the grammar.",
                "input": "he go home",
                "response1": "He goes home.",
                "response2": "He go home.",
                "annotator1": 1,
                "annotator2": 1,
                "annotator3": 2,
            },
            {
                "idx": 1,
                "motivation_app": "Quora",
                "cmp_key": "a_c",
                "instruction": "Explain rain in one line.",
                "input": "",
                "response1": "Water falls.",
                "response2": "Condensed vapour falls as drops.",
                "annotator1": "2",
                "annotator2": "2",
                "annotator3": "2",
            },
            {
                "idx": 2,
                "motivation_app": "Quora",
                "cmp_key": "b_c",
                "instruction": "Say something kind.",
                "input": "",
                "response1": "You matter.",
                "response2": "Have a nice day.",
                "annotator1": 0,
                "annotator2": 1,
                "annotator3": 2,
            },
        ],
        indent=2,
    ).encode(),
    created=3,
    annotations=9,
    domains={"general": 3},
)

LLMEVAL2 = Sample(
    "llmeval2",
    "LLMEval2_sample.jsonl",
    _jsonl(
        [
            {
                "query": "Summarise: cats sleep a lot.",
                "response1": "Cats nap.",
                "response2": "Dogs bark.",
                "human": "model1",
                "dataset": "summeval",
            },
            {
                "query": "Translate 'bonjour'.",
                "response1": "Goodbye",
                "response2": "Hello",
                "human": "model2",
                "dataset": "translation",
            },
            {
                "query": "Rate this.",
                "response1": "Fine",
                "response2": "Okay",
                "human": "TIE",
                "dataset": "summeval",
            },
        ]
    ),
    created=3,
    domains={"summeval": 2, "translation": 1},
)

ALL_SAMPLES = (JSONL, CSV, HH_RLHF, HH_RLHF_GZ, PANDALM, LLMEVAL2)

GOOD_ROW = {"prompt": "Q", "response_a": "yes", "response_b": "no", "label": "A"}


def _good_rows(n: int) -> list[dict[str, object]]:
    return [{**GOOD_ROW, "prompt": f"Question {i}"} for i in range(n)]


# (format, content, line, field): a file with a problem and where the parser must report it.
# The problems sit after valid rows, so rows already streamed must be rolled back too.
BAD_FILES: list[tuple[str, str, bytes, int | None, str | None]] = [
    ("jsonl-broken-json", "jsonl", _jsonl(_good_rows(2)) + b"{not json\n", 3, None),
    (
        "jsonl-missing-prompt",
        "jsonl",
        _jsonl([*_good_rows(2), {"response_a": "a", "response_b": "b"}]),
        3,
        "prompt",
    ),
    (
        "jsonl-bad-label",
        "jsonl",
        _jsonl([*_good_rows(1), {**GOOD_ROW, "prompt": "x", "label": "C"}]),
        2,
        "label",
    ),
    ("csv-missing-column", "csv", b"prompt,response_a,label\nq,a,A\n", 1, "response_b"),
    (
        "pandalm-bad-annotator",
        "pandalm",
        json.dumps(
            [
                {
                    "idx": 1,
                    "instruction": "i",
                    "input": "",
                    "response1": "a",
                    "response2": "b",
                    "annotator1": 1,
                    "annotator2": 2,
                    "annotator3": 2,
                },
                {
                    "idx": 2,
                    "instruction": "j",
                    "input": "",
                    "response1": "a",
                    "response2": "b",
                    "annotator1": 1,
                    "annotator2": 7,
                    "annotator3": 2,
                },
            ],
            indent=1,
        ).encode(),
        12,  # one key a line: the second element opens on line 12
        "annotator2",
    ),
    (
        "llmeval2-bad-human",
        "llmeval2",
        _jsonl(
            [
                {"query": "q", "response1": "a", "response2": "b", "human": "model1"},
                {"query": "q2", "response1": "a", "response2": "b", "human": "model3"},
            ]
        ),
        2,
        "human",
    ),
    (
        "hh-rlhf-no-assistant",
        "hh-rlhf",
        _jsonl(
            [
                {"chosen": _dialogue("hi", "hello"), "rejected": _dialogue("hi", "go")},
                {"chosen": "\n\nHuman: hi", "rejected": _dialogue("hi", "yo")},
            ]
        ),
        2,
        "chosen",
    ),
    ("jsonl-empty-file", "jsonl", b"", None, None),
]
