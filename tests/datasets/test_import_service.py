"""The pair import service: every format, duplicates, annotators' labels, all-or-nothing."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Membership
from apps.annotations.models import Annotation
from apps.core.models import AuditEvent
from apps.datasets import services
from apps.datasets.importers import ImportFailed
from apps.datasets.models import Dataset, Pair
from apps.datasets.services import writers
from tests.datasets.samples import (
    ALL_SAMPLES,
    BAD_FILES,
    HH_RLHF,
    JSONL,
    JSONL_ROWS,
    PANDALM,
    Sample,
)

pytestmark = pytest.mark.django_db

Importer = Callable[..., services.ImportResult]


def _domains(dataset: Dataset) -> dict[str, int]:
    return dict(Counter(dataset.pairs.values_list("domain", flat=True)))


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda s: s.name)
def test_each_format_imports_what_the_file_holds(
    sample: Sample, dataset: Dataset, import_sample: Importer
) -> None:
    result = import_sample(sample)

    assert (result.created, result.duplicates, result.skipped) == (
        sample.created,
        sample.duplicates,
        sample.skipped,
    )
    assert result.annotations == sample.annotations
    assert dataset.pairs.count() == sample.created
    assert _domains(dataset) == sample.domains
    assert set(dataset.pairs.values_list("gold_label", flat=True)) <= {"A", "B", "tie", None}


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda s: s.name)
def test_importing_the_same_file_again_adds_nothing(
    sample: Sample, dataset: Dataset, import_sample: Importer
) -> None:
    import_sample(sample)
    before = list(dataset.pairs.order_by("id").values_list("id", "content_hash"))
    annotations_before = Annotation.objects.count()

    again = import_sample(sample)

    assert again.created == 0
    assert again.duplicates == sample.created + sample.duplicates
    assert again.annotations == 0
    assert list(dataset.pairs.order_by("id").values_list("id", "content_hash")) == before
    assert Annotation.objects.count() == annotations_before


def test_the_same_file_into_another_dataset_is_imported_again(
    project: Any, dataset: Dataset, import_sample: Importer
) -> None:
    other = Dataset.objects.create(project=project, name="Other pairs")
    import_sample(JSONL)
    result = import_sample(JSONL, into=other)
    assert result.created == JSONL.created
    assert other.pairs.count() == dataset.pairs.count() == JSONL.created


def test_records_keep_their_fields_and_file_order(
    dataset: Dataset, import_sample: Importer
) -> None:
    import_sample(JSONL, domain="fallback")
    pairs = list(dataset.pairs.order_by("id"))
    # First occurrences only, in file order: the repeated j1 and the identical-responses j6 drop.
    expected = list(dict.fromkeys(row["id"] for row in JSONL_ROWS if row["id"] != "j6"))
    assert [p.external_id for p in pairs] == expected
    first = pairs[0]
    assert (first.prompt, first.response_a, first.response_b, first.gold_label) == (
        "Name a prime.",
        "7",
        "8",
        "A",
    )
    # A row without a domain takes the upload's domain; one without a label has none.
    assert (pairs[3].domain, pairs[3].gold_label) == ("fallback", None)
    assert all(len(p.content_hash) == 64 for p in pairs)


def test_a_partly_new_file_adds_only_the_new_pairs(
    dataset: Dataset, import_sample: Importer
) -> None:
    import_sample(JSONL)
    extra = {"id": "j9", "prompt": "New one", "response_a": "x", "response_b": "y"}
    content = JSONL.content + (json.dumps(extra) + "\n").encode()
    result = import_sample(Sample("jsonl", "more.jsonl", content, created=1))
    assert (result.created, result.duplicates) == (1, JSONL.created + JSONL.duplicates)
    assert dataset.pairs.filter(external_id="j9").exists()


def test_hh_rlhf_positions_follow_the_seed_and_another_seed_adds_nothing(
    dataset: Dataset, import_sample: Importer
) -> None:
    import_sample(HH_RLHF, seed=0)
    labels_seed_0 = dict(dataset.pairs.values_list("content_hash", "gold_label"))
    again = import_sample(HH_RLHF, seed=12345)
    assert again.created == 0
    assert again.duplicates == HH_RLHF.created
    assert dict(dataset.pairs.values_list("content_hash", "gold_label")) == labels_seed_0
    turns = dataset.pairs.order_by("id")[1].metadata["turns"]
    assert [turn["role"] for turn in turns] == ["human", "assistant", "human"]


def test_pandalm_labels_become_imported_annotations_of_three_annotators(
    project: Any, dataset: Dataset, import_sample: Importer
) -> None:
    result = import_sample(PANDALM)

    annotations = Annotation.objects.filter(pair__dataset=dataset)
    assert result.annotations == annotations.count() == 3 * PANDALM.created
    assert set(annotations.values_list("imported", flat=True)) == {True}
    assert set(annotations.values_list("queue", flat=True)) == {None}
    names = sorted(set(annotations.values_list("annotator__username", flat=True)))
    assert names == ["pandalm-annotator1", "pandalm-annotator2", "pandalm-annotator3"]
    for user in get_user_model().objects.filter(username__in=names):
        assert not user.has_usable_password()
        assert not Membership.objects.filter(user=user).exists()

    # idx 0: annotators said 1, 1, 2 -> A, A, B; majority A.
    pair = dataset.pairs.get(external_id="0")
    choices = dict(pair.annotations.values_list("annotator__username", "choice"))
    assert choices == {
        "pandalm-annotator1": "A",
        "pandalm-annotator2": "A",
        "pandalm-annotator3": "B",
    }
    assert pair.gold_label == "A"
    # idx 2: 0, 1, 2 -> no majority, a tie.
    assert dataset.pairs.get(external_id="2").gold_label == "tie"


def test_a_second_pandalm_import_reuses_the_annotator_users(
    project: Any, dataset: Dataset, import_sample: Importer
) -> None:
    import_sample(PANDALM)
    other = Dataset.objects.create(project=project, name="PandaLM again")
    import_sample(PANDALM, into=other)
    users = get_user_model().objects.filter(username__startswith="pandalm-annotator")
    assert users.count() == 3
    assert Annotation.objects.filter(pair__dataset=other).count() == 3 * PANDALM.created


@pytest.mark.parametrize(
    ("case", "format_name", "content", "line", "field"),
    BAD_FILES,
    ids=[case[0] for case in BAD_FILES],
)
def test_a_file_with_a_problem_imports_nothing(
    case: str,
    format_name: str,
    content: bytes,
    line: int | None,
    field: str | None,
    dataset: Dataset,
) -> None:
    audit_before = AuditEvent.objects.count()
    with pytest.raises(ImportFailed) as failure:
        services.pairs_import(
            actor=None, dataset=dataset, file=io.BytesIO(content), format=format_name
        )
    assert (line, field) in [(p.line, p.field) for p in failure.value.problems]
    assert Pair.objects.count() == 0
    assert Annotation.objects.count() == 0
    assert not get_user_model().objects.filter(username__startswith="pandalm-").exists()
    assert AuditEvent.objects.count() == audit_before


def test_a_bad_file_after_a_good_import_leaves_the_good_pairs(
    dataset: Dataset, import_sample: Importer
) -> None:
    import_sample(JSONL)
    _case, format_name, content, _line, _field = BAD_FILES[1]
    with pytest.raises(ImportFailed):
        services.pairs_import(
            actor=None, dataset=dataset, file=io.BytesIO(content), format=format_name
        )
    assert dataset.pairs.count() == JSONL.created


def test_unknown_format_and_bad_mapping_are_problems_too(dataset: Dataset) -> None:
    with pytest.raises(ImportFailed) as failure:
        services.pairs_import(
            actor=None, dataset=dataset, file=io.BytesIO(JSONL.content), format="xml"
        )
    assert failure.value.problems[0].field == "format"
    with pytest.raises(ImportFailed) as failure:
        services.pairs_import(
            actor=None,
            dataset=dataset,
            file=io.BytesIO(JSONL.content),
            format="jsonl",
            mapping={"answer": "x"},
        )
    assert failure.value.problems[0].field == "mapping"


def test_a_field_mapping_renames_source_fields(dataset: Dataset) -> None:
    content = json.dumps({"q": "Why?", "left": "Because.", "right": "No.", "winner": "a"})
    result = services.pairs_import(
        actor=None,
        dataset=dataset,
        file=io.BytesIO(content.encode() + b"\n"),
        format="jsonl",
        mapping={"prompt": "q", "response_a": "left", "response_b": "right", "label": "winner"},
    )
    assert result.created == 1
    pair = dataset.pairs.get()
    assert (pair.prompt, pair.response_a, pair.gold_label) == ("Why?", "Because.", "A")


def test_each_import_is_audited(
    members: dict[str, Any], dataset: Dataset, import_sample: Importer
) -> None:
    services.pairs_import(
        actor=members["author"],
        dataset=dataset,
        file=io.BytesIO(JSONL.content),
        format="jsonl",
        source_name="pairs.jsonl",
    )
    event = AuditEvent.objects.get(action="dataset.import")
    assert event.actor == members["author"]
    assert event.project == dataset.project
    assert event.object_id == str(dataset.pk)
    assert event.after is not None
    assert (event.after["created"], event.after["duplicates"], event.after["skipped"]) == (
        JSONL.created,
        JSONL.duplicates,
        JSONL.skipped,
    )
    assert event.after["format"] == "jsonl"
    assert event.after["file"] == "pairs.jsonl"


def test_text_is_stored_exactly_whatever_it_holds(dataset: Dataset) -> None:
    """Tabs, backslashes, newlines and non-ASCII survive the COPY text format untouched."""
    tricky = 'Tab\there, back\\slash \\N, "quotes", newline\nand 日本語 \u2028 end'
    row = {"prompt": tricky, "response_a": tricky + " A", "response_b": "\\.", "label": "B"}
    row["metadata"] = {"note": tricky, "nested": {"list": [1, 2.5, None, True]}}
    services.pairs_import(
        actor=None,
        dataset=dataset,
        file=io.BytesIO((json.dumps(row) + "\n").encode()),
        format="jsonl",
    )
    pair = dataset.pairs.get()
    assert (pair.prompt, pair.response_a, pair.response_b) == (tricky, tricky + " A", "\\.")
    assert pair.metadata["note"] == tricky
    assert pair.metadata["nested"] == {"list": [1, 2.5, None, True]}


def _pair_inserts(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("INSERT") and Pair._meta.db_table in q["sql"]
    ]


def test_pairs_are_written_in_bulk_not_row_by_row(dataset: Dataset) -> None:
    """PostgreSQL: COPY (straight into an empty dataset, else through a staging table and one
    INSERT ... ON CONFLICT); other databases: batched inserts."""
    rows = [
        {"prompt": f"Question {i}", "response_a": f"yes {i}", "response_b": "no", "label": "A"}
        for i in range(2500)
    ]
    first = "".join(json.dumps(row) + "\n" for row in rows[:2000]).encode()
    second = "".join(json.dumps(row) + "\n" for row in rows[1000:]).encode()

    with CaptureQueriesContext(connection) as queries:
        result = services.pairs_import(
            actor=None, dataset=dataset, file=io.BytesIO(first), format="jsonl"
        )
    assert result.created == dataset.pairs.count() == 2000
    first_inserts = _pair_inserts(queries)

    with CaptureQueriesContext(connection) as queries:
        result = services.pairs_import(
            actor=None, dataset=dataset, file=io.BytesIO(second), format="jsonl"
        )
    assert (result.created, result.duplicates) == (500, 1000)
    assert dataset.pairs.count() == len(rows)
    second_inserts = _pair_inserts(queries)

    if connection.vendor == "postgresql":
        assert first_inserts == []  # COPY, which the query log does not show
        assert len(second_inserts) == 1
        assert writers.CopyWriter.STAGING in second_inserts[0]
        assert "ON CONFLICT" in second_inserts[0]
    else:
        assert 0 < len(first_inserts) < 2000 / 50
        assert 0 < len(second_inserts) < 1500 / 50
    # File order is kept in id order on either path.
    ids = list(dataset.pairs.order_by("id").values_list("prompt", flat=True))
    assert ids == [row["prompt"] for row in rows]
