"""In a browser: create a dataset, fail an upload, import, filter, open a pair, freeze it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.datasets.models import Dataset, ReferenceSet
from tests.conftest import screenshot
from tests.datasets.samples import BAD_FILES, HH_RLHF, JSONL


@pytest.mark.browser
def test_dataset_upload_and_snapshot_journey(
    page: Any, login: Any, members: dict[str, Any], project: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(BAD_FILES[1][2])  # the prompt is missing on line 3
    good = tmp_path / JSONL.name
    good.write_bytes(JSONL.content)
    transcript = tmp_path / HH_RLHF.name
    transcript.write_bytes(HH_RLHF.content)

    login(page, members["author"])
    page.goto(f"/p/{project.slug}/")
    page.click("nav.mainnav >> text=Data")
    page.fill("#id_name", "Browser pairs")
    page.click("text=Create dataset")
    page.wait_for_selector("h1:has-text('Browser pairs')")
    dataset = Dataset.objects.get(name="Browser pairs")

    # A bad file: the problems are listed by line and field, nothing is imported.
    page.set_input_files("#id_file", str(bad))
    page.select_option("#id_format", "jsonl")
    page.click("form.import-form button[type=submit]")
    page.wait_for_selector("#import-result table.import-errors")
    row = page.locator("#import-result table.import-errors tbody tr").first.inner_text()
    assert "3" in row and "prompt" in row
    assert dataset.pairs.count() == 0
    screenshot(page, "datasets-upload-errors")

    # A good file: imported, and the pair table refreshes without a reload.
    page.set_input_files("#id_file", str(good))
    page.click("form.import-form button[type=submit]")
    page.wait_for_selector(f"#import-result:has-text('Imported {JSONL.created} pairs')")
    page.wait_for_selector("#pairs table.pairs-table")
    assert page.locator("#pairs tbody tr").count() == JSONL.created

    # The domain filter narrows the table in place.
    page.select_option("#filter-domain", "math")
    expect(page.locator("#pairs tbody tr")).to_have_count(JSONL.domains["math"])
    expect(page).to_have_url(re.compile(r"domain=math"))
    screenshot(page, "datasets-detail-filtered")

    # A transcript pair shows its turns, both responses side by side.
    page.set_input_files("#id_file", str(transcript))
    page.select_option("#id_format", "hh-rlhf")
    page.click("form.import-form button[type=submit]")
    page.wait_for_selector(f"#import-result:has-text('Imported {HH_RLHF.created} pairs')")
    multi_turn = dataset.pairs.filter(domain="helpfulness").order_by("id")[1]
    page.goto(f"/p/{project.slug}/data/pairs/{multi_turn.pk}/")
    assert page.locator(".transcript .turn").count() == 3
    assert page.locator(".responses .response").count() == 2
    screenshot(page, "datasets-pair")

    # Freeze the dataset's labels as a reference snapshot.
    page.goto(f"/p/{project.slug}/data/reference-sets/?dataset={dataset.pk}")
    page.fill("#id_name", "Browser gold")
    page.click("text=Freeze snapshot")
    page.wait_for_selector("h1:has-text('Browser gold')")
    snapshot = ReferenceSet.objects.get(name="Browser gold")
    assert page.locator("#items tbody tr").count() == snapshot.item_count
    screenshot(page, "datasets-reference-set")

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/p/{project.slug}/data/{dataset.pk}/")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    screenshot(page, "datasets-detail-narrow")
