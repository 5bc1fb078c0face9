"""The datasets API: datasets, imports (201 or 400 with line and field), pairs, reference sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.annotations.models import Annotation
from apps.datasets.models import Dataset, Pair, ReferenceSet
from tests.datasets.samples import ALL_SAMPLES, BAD_FILES, JSONL, PANDALM, Sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def author_api(members: dict[str, Any], api_client_for: Callable[[Any], Any]) -> Any:
    return api_client_for(members["author"])


def _upload(client: Any, dataset: Dataset, sample: Sample, **fields: Any) -> Any:
    return client.post(
        f"/api/datasets/{dataset.pk}/import/",
        {
            "file": SimpleUploadedFile(sample.name, sample.content),
            "format": sample.format,
            **fields,
        },
        format="multipart",
    )


def test_create_and_list_datasets(project: Any, author_api: Any) -> None:
    response = author_api.post(
        "/api/datasets/", {"project": project.pk, "name": "Gold pairs", "description": "d"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Gold pairs"
    assert response.json()["pair_count"] == 0
    duplicate = author_api.post("/api/datasets/", {"project": project.pk, "name": "Gold pairs"})
    assert duplicate.status_code == 400
    assert "name" in duplicate.json()

    listed = author_api.get("/api/datasets/", {"project": project.pk}).json()
    assert [d["name"] for d in listed["results"]] == ["Gold pairs"]


@pytest.mark.parametrize("role", ["viewer", "annotator"])
def test_only_writers_create_datasets(
    role: str, project: Any, members: dict[str, Any], api_client_for: Callable[[Any], Any]
) -> None:
    response = api_client_for(members[role]).post(
        "/api/datasets/", {"project": project.pk, "name": "Nope"}
    )
    assert response.status_code == 403
    assert not Dataset.objects.exists()


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda s: s.name)
def test_import_each_format_then_again(sample: Sample, dataset: Dataset, author_api: Any) -> None:
    response = _upload(author_api, dataset, sample)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["duplicates"], body["skipped"]) == (
        sample.created,
        sample.duplicates,
        sample.skipped,
    )
    assert body["annotations"] == sample.annotations

    again = _upload(author_api, dataset, sample)
    assert again.status_code == 201
    assert (again.json()["created"], again.json()["duplicates"]) == (
        0,
        sample.created + sample.duplicates,
    )
    assert dataset.pairs.count() == sample.created


def test_import_takes_domain_and_seed(dataset: Dataset, author_api: Any) -> None:
    response = _upload(author_api, dataset, JSONL, domain="chat", seed=3)
    assert response.status_code == 201
    assert dataset.pairs.get(external_id="j4").domain == "chat"


@pytest.mark.parametrize(
    ("case", "format_name", "content", "line", "field"),
    BAD_FILES,
    ids=[case[0] for case in BAD_FILES],
)
def test_a_bad_file_gets_400_with_line_and_field_and_imports_nothing(
    case: str,
    format_name: str,
    content: bytes,
    line: int | None,
    field: str | None,
    dataset: Dataset,
    author_api: Any,
) -> None:
    response = _upload(author_api, dataset, Sample(format_name, f"{case}.txt", content, 0))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"line", "field", "message"} <= set(errors[0])
    if not content:
        field = "file"  # an empty upload is refused before it reaches the parser
    assert (line, field) in [(e["line"], e["field"]) for e in errors]
    assert all(e["message"] for e in errors)
    assert Pair.objects.count() == 0
    assert Annotation.objects.count() == 0


def test_form_problems_use_the_same_error_shape(dataset: Dataset, author_api: Any) -> None:
    response = author_api.post(
        f"/api/datasets/{dataset.pk}/import/", {"format": "yaml"}, format="multipart"
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"file", "format"}
    assert all(e["line"] is None for e in response.json()["errors"])


def test_an_upload_over_the_limit_is_refused(dataset: Dataset, author_api: Any) -> None:
    with override_settings(RUBRICSTUDIO_MAX_UPLOAD_BYTES=10):
        response = _upload(author_api, dataset, JSONL)
    assert response.status_code == 413
    assert not dataset.pairs.exists()


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("annotator", 403)])
def test_only_writers_import(
    role: str,
    status: int,
    dataset: Dataset,
    members: dict[str, Any],
    api_client_for: Callable[[Any], Any],
) -> None:
    assert _upload(api_client_for(members[role]), dataset, JSONL).status_code == status
    assert not dataset.pairs.exists()


def test_another_projects_dataset_is_not_found(other_project: Any, author_api: Any) -> None:
    theirs = Dataset.objects.create(project=other_project, name="Theirs")
    assert _upload(author_api, theirs, JSONL).status_code == 404
    assert author_api.get(f"/api/datasets/{theirs.pk}/").status_code == 404


def test_pairs_filter_by_dataset_and_domain(
    project: Any, dataset: Dataset, author_api: Any, import_sample: Callable[..., Any]
) -> None:
    import_sample(JSONL)
    other = Dataset.objects.create(project=project, name="Other")
    import_sample(PANDALM, into=other)

    by_dataset = author_api.get("/api/pairs/", {"dataset": dataset.pk}).json()
    assert by_dataset["count"] == JSONL.created
    assert {p["dataset"] for p in by_dataset["results"]} == {dataset.pk}
    assert set(by_dataset["results"][0]) == {
        "id",
        "dataset",
        "external_id",
        "prompt",
        "response_a",
        "response_b",
        "domain",
        "gold_label",
        "metadata",
    }
    math = author_api.get("/api/pairs/", {"dataset": dataset.pk, "domain": "math"}).json()
    assert math["count"] == JSONL.domains["math"]
    assert {p["domain"] for p in math["results"]} == {"math"}
    assert author_api.get("/api/pairs/").json()["count"] == JSONL.created + PANDALM.created


def test_annotators_never_see_pairs_with_gold_labels(
    dataset: Dataset,
    members: dict[str, Any],
    api_client_for: Callable[[Any], Any],
    import_sample: Callable[..., Any],
) -> None:
    import_sample(JSONL)
    annotator = api_client_for(members["annotator"])
    assert annotator.get("/api/pairs/").status_code == 403
    pair = dataset.pairs.first()
    assert pair is not None
    assert annotator.get(f"/api/pairs/{pair.pk}/").status_code == 403


def test_reference_set_from_a_dataset_and_its_items(
    project: Any, dataset: Dataset, author_api: Any, import_sample: Callable[..., Any]
) -> None:
    import_sample(JSONL)
    response = author_api.post(
        "/api/reference-sets/", {"project": project.pk, "name": "Gold", "dataset": dataset.pk}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    labelled = dataset.pairs.exclude(gold_label=None)
    assert body["version"] == 1
    assert body["item_count"] == labelled.count()
    assert body["unlabelled_count"] == 1
    assert body["domain_counts"] == {"math": 2, "geography": 1}
    assert body["created_by"] == "author1"

    items = author_api.get(f"/api/reference-sets/{body['id']}/items/").json()
    assert items["count"] == labelled.count()
    assert {(i["id"], i["gold_label"]) for i in items["results"]} == set(
        labelled.values_list("id", "gold_label")
    )
    assert {i["source"] for i in items["results"]} == {"imported"}
    tie_only = author_api.get(
        f"/api/reference-sets/{body['id']}/items/", {"gold_label": "tie"}
    ).json()
    assert tie_only["count"] == 1


def test_reference_sets_have_no_update_or_delete(
    project: Any, dataset: Dataset, author_api: Any, import_sample: Callable[..., Any]
) -> None:
    import_sample(JSONL)
    created = author_api.post(
        "/api/reference-sets/", {"project": project.pk, "name": "Gold", "dataset": dataset.pk}
    ).json()
    url = f"/api/reference-sets/{created['id']}/"
    # Refused by the permission layer (no capability is declared for these methods) or as
    # not allowed; either way nothing changes.
    assert author_api.patch(url, {"name": "Changed"}).status_code in (403, 405)
    assert author_api.put(url, {"name": "Changed"}).status_code in (403, 405)
    assert author_api.delete(url).status_code in (403, 405)
    assert ReferenceSet.objects.get().name == "Gold"


def test_reference_set_requests_that_are_refused(
    project: Any,
    other_project: Any,
    dataset: Dataset,
    members: dict[str, Any],
    api_client_for: Callable[[Any], Any],
    import_sample: Callable[..., Any],
) -> None:
    import_sample(JSONL)
    author = api_client_for(members["author"])
    both = author.post(
        "/api/reference-sets/",
        {"project": project.pk, "name": "X", "dataset": dataset.pk, "queue": 1},
    )
    assert both.status_code == 400
    theirs = Dataset.objects.create(project=other_project, name="Theirs")
    foreign = author.post(
        "/api/reference-sets/", {"project": project.pk, "name": "X", "dataset": theirs.pk}
    )
    assert foreign.status_code == 400
    viewer = api_client_for(members["viewer"]).post(
        "/api/reference-sets/", {"project": project.pk, "name": "X", "dataset": dataset.pk}
    )
    assert viewer.status_code == 403
    assert not ReferenceSet.objects.exists()
