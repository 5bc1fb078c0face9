"""The dataset pages: lists, the pair table, uploads with errors, pair detail, snapshots."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.datasets import services
from apps.datasets.models import Dataset, Pair, ReferenceSet
from tests.datasets.samples import BAD_FILES, HH_RLHF, JSONL, PANDALM

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(members: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(members["author"])
    return client


@pytest.fixture
def viewer(members: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(members["viewer"])
    return client


def _url(name: str, project: Any, **kwargs: Any) -> str:
    return reverse(f"datasets:{name}", kwargs={"project": project.slug, **kwargs})


def test_list_shows_pair_counts_per_domain(
    project: Any, dataset: Dataset, viewer: Client, import_sample: Callable[..., Any]
) -> None:
    import_sample(JSONL)
    html = viewer.get(_url("list", project)).content.decode()
    assert dataset.name in html
    for domain, n in JSONL.domains.items():
        assert f'{domain} <span class="count">{n}</span>' in html
    assert "New dataset" not in html  # viewers do not create datasets


def test_create_a_dataset_from_the_list(project: Any, author: Client) -> None:
    response = author.post(_url("create", project), {"name": "Fresh", "description": ""})
    dataset = Dataset.objects.get(project=project, name="Fresh")
    assert response.status_code == 302
    assert response["Location"] == _url("detail", project, dataset=dataset.pk)
    again = author.post(_url("create", project), {"name": "Fresh"})
    assert again.status_code == 400
    assert "already has a dataset" in again.content.decode()


def test_detail_filters_by_domain_and_paginates(
    project: Any, dataset: Dataset, viewer: Client
) -> None:
    rows = [
        {
            "id": f"row-{i}",
            "prompt": f"Prompt number {i}",
            "response_a": "a",
            "response_b": "b",
            "domain": "alpha" if i % 3 else "beta",
        }
        for i in range(120)
    ]
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    services.pairs_import(actor=None, dataset=dataset, file=io.BytesIO(content), format="jsonl")
    url = _url("detail", project, dataset=dataset.pk)

    first = viewer.get(url).content.decode()
    assert "Page 1 of 3" in first
    assert "row-0<" in first and "row-50<" not in first

    beta = viewer.get(url, {"domain": "beta"}).content.decode()
    betas = [row["id"] for row in rows if row["domain"] == "beta"]
    assert beta.count('href="/p/alpha/data/pairs/') == len(betas) < 50
    assert "row-3<" in beta and "row-1<" not in beta

    second = viewer.get(url, {"domain": "alpha", "page": 2}).content.decode()
    alphas = [row["id"] for row in rows if row["domain"] == "alpha"]
    assert f">{alphas[50]}<" in second
    assert f">{alphas[0]}<" not in second


def test_htmx_gets_only_the_pair_table(project: Any, dataset: Dataset, viewer: Client) -> None:
    response = viewer.get(
        _url("detail", project, dataset=dataset.pk), {"domain": "x"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="pairs"')
    assert "<html" not in html


def test_upload_through_the_page(project: Any, dataset: Dataset, author: Client) -> None:
    url = _url("import", project, dataset=dataset.pk)
    upload = SimpleUploadedFile(PANDALM.name, PANDALM.content)
    response = author.post(url, {"file": upload, "format": "pandalm", "domain": "", "seed": 0})
    assert response.status_code == 302
    assert dataset.pairs.count() == PANDALM.created
    page = author.get(response["Location"]).content.decode()
    assert f"Imported {PANDALM.created} pairs" in page
    agreement = reverse(
        "annotations:dataset_agreement", kwargs={"project": project.slug, "dataset": dataset.pk}
    )
    assert agreement in page  # the three annotators' labels came with the file


def test_upload_through_htmx_returns_the_result_and_refreshes_the_table(
    project: Any, dataset: Dataset, author: Client
) -> None:
    url = _url("import", project, dataset=dataset.pk)
    upload = SimpleUploadedFile(HH_RLHF.name, HH_RLHF.content)
    response = author.post(url, {"file": upload, "format": "hh-rlhf"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="import-result"')
    assert f"Imported {HH_RLHF.created} pairs" in html
    assert response["HX-Trigger"] == "pairs-changed"
    assert set(dataset.pairs.values_list("domain", flat=True)) == {"helpfulness"}
    page = author.get(_url("detail", project, dataset=dataset.pk)).content.decode()
    assert "/agreement/" not in page  # HH-RLHF brings no annotators of its own


@pytest.mark.parametrize("htmx", [False, True])
def test_a_bad_upload_lists_problems_with_line_numbers_and_imports_nothing(
    htmx: bool, project: Any, dataset: Dataset, author: Client
) -> None:
    _case, format_name, content, line, field = BAD_FILES[1]
    url = _url("import", project, dataset=dataset.pk)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = author.post(
        url, {"file": SimpleUploadedFile("bad.jsonl", content), "format": format_name}, **headers
    )
    html = response.content.decode()
    assert response.status_code == (200 if htmx else 400)
    assert "Nothing was imported" in html
    assert f'<td class="num">{line}</td><td class="mono">{field}</td>' in html
    assert "HX-Trigger" not in response
    assert not Pair.objects.exists()


def test_viewers_cannot_upload(project: Any, dataset: Dataset, viewer: Client) -> None:
    upload = SimpleUploadedFile(JSONL.name, JSONL.content)
    response = viewer.post(_url("import", project, dataset=dataset.pk), {"file": upload})
    assert response.status_code == 403
    assert (
        "Upload pairs"
        not in viewer.get(_url("detail", project, dataset=dataset.pk)).content.decode()
    )
    assert not Pair.objects.exists()


def test_pair_page_escapes_text_and_shows_turns(
    project: Any, dataset: Dataset, viewer: Client, import_sample: Callable[..., Any]
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    row = {
        "id": "hostile",
        "prompt": "Which is better? " + hostile,
        "response_a": "A says " + hostile,
        "response_b": "B is plain",
        "label": "A",
        "metadata": {
            "turns": [
                {"role": "human", "text": "First " + hostile},
                {"role": "assistant", "text": "Reply"},
                {"role": "human", "text": "Follow-up question"},
            ]
        },
    }
    services.pairs_import(
        actor=None,
        dataset=dataset,
        file=io.BytesIO((json.dumps(row) + "\n").encode()),
        format="jsonl",
    )
    pair = dataset.pairs.get()
    html = viewer.get(_url("pair", project, pair=pair.pk)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.count('class="turn turn-human"') == 2
    assert html.count('class="turn turn-assistant"') == 1
    assert "Follow-up question" in html
    assert "Response A" in html and "Response B" in html


def test_hh_rlhf_transcripts_show_as_turns(
    project: Any, dataset: Dataset, viewer: Client, import_sample: Callable[..., Any]
) -> None:
    import_sample(HH_RLHF)
    pair = dataset.pairs.order_by("id")[1]  # a two-exchange conversation
    html = viewer.get(_url("pair", project, pair=pair.pk)).content.decode()
    assert html.count('class="turn turn-human"') == 2
    assert html.count('class="turn turn-assistant"') == 1


def test_malformed_turns_fall_back_to_the_prompt(
    project: Any, dataset: Dataset, viewer: Client
) -> None:
    row = {"prompt": "Plain prompt", "response_a": "a", "response_b": "b", "turns": "nonsense"}
    services.pairs_import(
        actor=None,
        dataset=dataset,
        file=io.BytesIO((json.dumps(row) + "\n").encode()),
        format="jsonl",
    )
    html = viewer.get(_url("pair", project, pair=dataset.pairs.get().pk)).content.decode()
    assert 'class="turn ' not in html
    assert "Plain prompt" in html


def test_reference_sets_page_creates_and_lists_snapshots(
    project: Any, dataset: Dataset, author: Client, import_sample: Callable[..., Any]
) -> None:
    import_sample(JSONL)
    response = author.post(
        _url("reference_set_create", project),
        {"name": "Gold", "dataset": dataset.pk, "description": ""},
    )
    reference_set = ReferenceSet.objects.get(name="Gold")
    assert response.status_code == 302
    assert response["Location"] == _url("reference_set", project, reference_set=reference_set.pk)

    listing = author.get(_url("reference_sets", project)).content.decode()
    assert "Gold" in listing and "v1" in listing
    for domain, n in reference_set.domain_counts.items():
        assert f'{domain} <span class="count">{n}</span>' in listing

    page = author.get(_url("reference_set", project, reference_set=reference_set.pk))
    html = page.content.decode()
    assert f'data-figure-link="items">{reference_set.item_count}</a></dd>' in html
    for pair_id in reference_set.items.values_list("pair_id", flat=True):
        assert _url("pair", project, pair=pair_id) in html
    math_only = author.get(
        _url("reference_set", project, reference_set=reference_set.pk),
        {"domain": "geography"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert math_only.count('class="badge">geography<') == 1


def test_a_snapshot_of_an_unlabelled_dataset_is_refused_with_a_message(
    project: Any, author: Client
) -> None:
    empty = Dataset.objects.create(project=project, name="Empty")
    response = author.post(
        _url("reference_set_create", project), {"name": "X", "dataset": empty.pk}
    )
    assert response.status_code == 400
    assert "No pair has a label to freeze." in response.content.decode()
    assert not ReferenceSet.objects.exists()


def test_ids_of_another_project_are_not_found(
    project: Any, other_project: Any, author: Client
) -> None:
    theirs = Dataset.objects.create(project=other_project, name="Theirs")
    rows = json.dumps({"prompt": "p", "response_a": "a", "response_b": "b", "label": "A"})
    services.pairs_import(
        actor=None, dataset=theirs, file=io.BytesIO(rows.encode() + b"\n"), format="jsonl"
    )
    snapshot = services.reference_set_create(
        actor=None, project=other_project, name="Theirs", dataset=theirs
    )
    pair = theirs.pairs.get()
    assert author.get(_url("detail", project, dataset=theirs.pk)).status_code == 404
    assert author.get(_url("pair", project, pair=pair.pk)).status_code == 404
    assert author.get(_url("reference_set", project, reference_set=snapshot.pk)).status_code == 404
    upload = SimpleUploadedFile(JSONL.name, JSONL.content)
    response = author.post(
        _url("import", project, dataset=theirs.pk), {"file": upload, "format": "jsonl"}
    )
    assert response.status_code == 404
    assert theirs.pairs.count() == 1


def test_dashboard_card_for_staff_only(
    project: Any, members: dict[str, Any], import_sample: Callable[..., Any]
) -> None:
    import_sample(JSONL)
    url = reverse("dashboard", kwargs={"project": project.slug})
    viewer = Client()
    viewer.force_login(members["viewer"])
    html = viewer.get(url).content.decode()
    assert _url("list", project) in html
    assert f'data-figure-link="pairs">{JSONL.created}</a></dd>' in html
    annotator = Client()
    annotator.force_login(members["annotator"])
    assert _url("list", project) not in annotator.get(url).content.decode()
