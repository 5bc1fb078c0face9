"""Upload formats: each listed with an example file that its own importer reads without a
problem, pair ids from the file where it has them, and a failed upload's problems at the top."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse

from apps.datasets.formats import upload_formats
from apps.datasets.importers import FORMATS, ImportOptions, parse_pairs
from apps.datasets.models import Dataset

# The ids each example file gives its pairs: the file's own where it has them.
EXPECTED_IDS = {
    "jsonl": ["math-1", "code-1", "chat-1", "safety-1", "unlabelled-1"],
    "csv": ["math-1", "code-1", "chat-1", "unlabelled-1"],
    "hh-rlhf": ["line-1", "line-2"],
    "pandalm": ["0", "1", "2"],
    "llmeval2": ["1", "2", "3"],
}


@pytest.mark.parametrize("upload_format", upload_formats(), ids=lambda f: f.name)
def test_every_example_file_imports_cleanly_with_its_ids(upload_format: Any) -> None:
    data = upload_format.example_path.read_bytes()
    options = ImportOptions(source_name=upload_format.example)
    stream = parse_pairs(io.BytesIO(data), upload_format.name, options)
    records = list(stream)
    assert stream.problems == []
    assert [record.external_id for record in records] == EXPECTED_IDS[upload_format.name]


def test_every_importer_is_listed() -> None:
    assert [f.name for f in upload_formats()] == list(FORMATS)


def test_an_id_in_an_llmeval2_or_hh_rlhf_row_becomes_the_pair_id() -> None:
    hh = (
        b'{"id": "hh-7", "chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!", '
        b'"rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away."}\n'
    )
    assert [r.external_id for r in parse_pairs(io.BytesIO(hh), "hh-rlhf")] == ["hh-7"]
    bad = b'{"id": [1], "query": "q", "response1": "a", "response2": "b", "human": "TIE"}\n'
    stream = parse_pairs(io.BytesIO(bad), "llmeval2")
    assert list(stream) == []
    assert [(p.line, p.field) for p in stream.problems] == [(1, "id")]


@pytest.mark.django_db
def test_formats_page_lists_every_format_with_a_download(
    client: Any, members: dict[str, Any], project: Any
) -> None:
    client.force_login(members["viewer"])
    page = client.get(reverse("datasets:formats", kwargs={"project": project.slug}))
    html = page.content.decode()
    for upload_format in upload_formats():
        url = reverse(
            "datasets:format_example",
            kwargs={"project": project.slug, "format": upload_format.name},
        )
        assert f'href="{url}"' in html
        download = client.get(url)
        assert download.status_code == 200
        assert f'filename="{upload_format.example}"' in download["Content-Disposition"]
        assert b"".join(download.streaming_content) == upload_format.example_path.read_bytes()
    missing = reverse(
        "datasets:format_example", kwargs={"project": project.slug, "format": "parquet"}
    )
    assert client.get(missing).status_code == 404


@pytest.mark.django_db
def test_a_failed_upload_lists_its_problems_above_the_pairs(
    client: Any, members: dict[str, Any], project: Any
) -> None:
    dataset = Dataset.objects.create(project=project, name="Uploads")
    client.force_login(members["author"])
    bad = io.BytesIO(b'{"prompt": "p", "response_a": "a"}\n')
    bad.name = "bad.jsonl"
    response = client.post(
        reverse("datasets:import", kwargs={"project": project.slug, "dataset": dataset.pk}),
        {"file": bad, "format": "jsonl", "seed": 0},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.index('class="import-errors"') < html.index('id="pairs"')
    assert "response_b" in html.split('class="import-errors"')[1].split("</table>")[0]
    assert dataset.pairs.count() == 0
