"""The shared list components: one paginator that keeps the filters, one filter bar."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from apps.datasets.models import Dataset
from tests.factories import make_reference_set


def test_pagination_keeps_the_filters_and_swaps_its_target() -> None:
    request = RequestFactory().get("/runs/", {"status": "failed", "page": "2"})
    page = Paginator(list(range(95)), 25).get_page(2)
    html = render_to_string(
        "includes/pagination.html", {"page_obj": page, "target": "#rows"}, request=request
    )
    assert 'href="?status=failed&amp;page=1"' in html
    assert 'hx-get="?status=failed&amp;page=3"' in html and 'hx-target="#rows"' in html
    assert "Page 2 of 4 · 95 rows" in html


def test_pagination_is_silent_on_a_single_page() -> None:
    request = RequestFactory().get("/runs/")
    page = Paginator([1, 2], 25).get_page(1)
    assert render_to_string("includes/pagination.html", {"page_obj": page}, request).strip() == ""


@pytest.mark.django_db
def test_datasets_and_reference_sets_share_the_filter_bar(
    client: Any, members: dict[str, Any], project: Any
) -> None:
    Dataset.objects.create(project=project, name="Support tickets")
    Dataset.objects.create(project=project, name="Code review")
    client.force_login(members["viewer"])
    url = reverse("datasets:list", kwargs={"project": project.slug})
    html = client.get(url, {"name": "SUPPORT"}).content.decode()
    assert 'class="toolbar filter-bar"' in html and 'id="filter-name"' in html
    assert "Support tickets" in html and "Code review" not in html
    assert "No dataset matches" in client.get(url, {"name": "zzz"}).content.decode()

    first = make_reference_set(project, n_pairs=2, name="First snapshot")
    make_reference_set(project, n_pairs=2, name="Second snapshot")
    url = reverse("datasets:reference_sets", kwargs={"project": project.slug})
    html = client.get(url, {"dataset": first.dataset_id}).content.decode()
    assert 'class="toolbar filter-bar"' in html and 'id="filter-dataset"' in html
    assert "First snapshot" in html and "Second snapshot" not in html
