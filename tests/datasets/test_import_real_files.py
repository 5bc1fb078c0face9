"""The published files (../shared/data) imported through the service: every row accounted for.

Skipped when the data folder is absent (a fresh clone elsewhere does not have it). The expected
counts come from reading each file independently here: every row of the file is either a new
pair, a duplicate, or skipped with a reason.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from apps.annotations.models import Annotation
from apps.datasets import services
from apps.datasets.models import Dataset
from tests.datasets.samples import SHARED_DATA

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _path(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{relative} not present (the shared data folder is not on this machine)")
    return path


def _import(dataset: Dataset, path: Path, format_name: str) -> services.ImportResult:
    with path.open("rb") as handle:
        return services.pairs_import(
            actor=None, dataset=dataset, file=handle, format=format_name, source_name=path.name
        )


def _json_lines(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize(
    ("relative", "domain"),
    [
        ("hh-rlhf/helpful-base_test.jsonl.gz", "helpfulness"),
        ("hh-rlhf/harmless-base_test.jsonl.gz", "harmlessness"),
    ],
)
def test_hh_rlhf_test_sets(relative: str, domain: str, dataset: Dataset) -> None:
    path = _path(relative)
    rows = _json_lines(path)

    result = _import(dataset, path, "hh-rlhf")

    assert result.created + result.duplicates + result.skipped == len(rows)
    assert result.created == dataset.pairs.count() > 0.95 * len(rows)
    assert set(dataset.pairs.values_list("domain", flat=True)) == {domain}
    labels = Counter(dataset.pairs.values_list("gold_label", flat=True))
    assert set(labels) == {"A", "B"}
    # The seeded coin flip balances positions: neither side far from half.
    assert abs(labels["A"] - labels["B"]) < 0.1 * result.created
    again = _import(dataset, path, "hh-rlhf")
    assert (again.created, again.duplicates) == (0, result.created + result.duplicates)


def test_pandalm_test_set_with_three_annotators(dataset: Dataset) -> None:
    path = _path("pandalm/testset-v1.json")
    elements = json.loads(path.read_text(encoding="utf-8"))

    result = _import(dataset, path, "pandalm")

    assert result.created == dataset.pairs.count() == len(elements) == 999
    assert result.annotations == 3 * 999
    annotations = Annotation.objects.filter(pair__dataset=dataset, imported=True, queue=None)
    assert annotations.count() == 3 * 999
    per_annotator = Counter(annotations.values_list("annotator__username", flat=True))
    assert per_annotator == {f"pandalm-annotator{i}": 999 for i in (1, 2, 3)}
    # Spot-check one element against the file: its three labels, mapped 0/1/2 -> tie/A/B.
    element = elements[17]
    pair = dataset.pairs.get(external_id=str(element["idx"]))
    mapping = {"0": "tie", "1": "A", "2": "B"}
    assert dict(pair.annotations.values_list("annotator__username", "choice")) == {
        f"pandalm-annotator{i}": mapping[str(element[f"annotator{i}"])] for i in (1, 2, 3)
    }


def test_llmeval2_benchmark(dataset: Dataset) -> None:
    path = _path("llmeval2/LLMEval2_benchmark.jsonl")
    rows = _json_lines(path)

    result = _import(dataset, path, "llmeval2")

    assert result.created + result.duplicates + result.skipped == len(rows) == 2553
    assert dataset.pairs.count() == result.created
    domains = Counter(dataset.pairs.values_list("domain", flat=True))
    assert len(domains) == len({row["dataset"] for row in rows}) == 15
    assert set(dataset.pairs.values_list("gold_label", flat=True)) == {"A", "B", "tie"}


def test_a_reference_set_from_a_real_file(project: Any, dataset: Dataset) -> None:
    path = _path("hh-rlhf/harmless-base_test.jsonl.gz")
    _import(dataset, path, "hh-rlhf")
    reference_set = services.reference_set_create(
        actor=None, project=project, name="Harmless", dataset=dataset
    )
    assert reference_set.item_count == dataset.pairs.count()
    assert reference_set.domain_counts == {"harmlessness": dataset.pairs.count()}
    assert reference_set.unlabelled_count == 0


def test_bytes_in_memory_import_like_a_file(dataset: Dataset) -> None:
    """An upload arrives as a file-like object of bytes, not a path: same result."""
    path = _path("llmeval2/LLMEval2_benchmark.jsonl")
    result = services.pairs_import(
        actor=None, dataset=dataset, file=io.BytesIO(path.read_bytes()), format="llmeval2"
    )
    assert result.created == dataset.pairs.count() > 0
