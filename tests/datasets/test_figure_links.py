"""Every count on the data pages opens the rows it counts: following the link lists exactly as
many pairs or items as the figure says, all of the counted kind."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.datasets.models import Dataset, Pair
from tests.factories import make_dataset, make_reference_set
from tests.figure_links import figure_links

pytestmark = pytest.mark.django_db
# One row per pair or item: its id cell links to the pair page.
ROW = re.compile(r'<td class="mono"><a href="[^"]+/pairs/(\d+)/">')


@pytest.fixture
def dataset(project: Any) -> Dataset:
    dataset, pairs = make_dataset(
        project, n_pairs=13, domains=("helpfulness", "harmlessness", "code")
    )
    Pair.objects.filter(pk=pairs[0].pk).update(gold_label=None)
    Pair.objects.filter(pk__in=[pairs[1].pk, pairs[2].pk]).update(gold_label="tie")
    return dataset


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rows(html: str) -> list[int]:
    return [int(pk) for pk in ROW.findall(html)]


def test_dataset_page_counts_open_their_pairs(
    project: Any, members: dict[str, Any], dataset: Dataset
) -> None:
    client = _client(members["viewer"])
    url = reverse("datasets:detail", kwargs={"project": project.slug, "dataset": dataset.pk})
    links = figure_links(client.get(url).content.decode())
    kinds = [link.kind for link in links]
    assert kinds.count("domain") == 3
    assert {"label-A", "label-B", "label-tie", "label-none"} <= set(kinds)
    assert f"{url}?label=none" in {link.href for link in links}
    for link in links:
        shown = _rows(client.get(link.path).content.decode())
        assert len(shown) == link.value, link
        if link.kind == "label-none":
            assert set(shown) == set(
                dataset.pairs.filter(gold_label__isnull=True).values_list("pk", flat=True)
            )


def test_dataset_list_pair_counts_open_the_dataset(
    project: Any, members: dict[str, Any], dataset: Dataset
) -> None:
    client = _client(members["viewer"])
    html = client.get(reverse("datasets:list", kwargs={"project": project.slug})).content.decode()
    links = figure_links(html)
    assert [link.kind for link in links] == ["pairs", "domain", "domain", "domain"]
    for link in links:  # the pair count, then each domain's
        assert len(_rows(client.get(link.path).content.decode())) == link.value, link


def test_reference_set_counts_open_their_items(
    project: Any, members: dict[str, Any], dataset: Dataset
) -> None:
    reference_set = make_reference_set(project, pairs=list(dataset.pairs.order_by("pk")))
    client = _client(members["viewer"])
    url = reverse(
        "datasets:reference_set",
        kwargs={"project": project.slug, "reference_set": reference_set.pk},
    )
    links = figure_links(client.get(url).content.decode())
    assert {link.kind for link in links} == {"items", "domain", "gold-A", "gold-B", "gold-tie"}
    for link in links:
        html = client.get(link.path).content.decode()
        shown = _rows(html)
        assert len(shown) == link.value, link
        if link.kind == "gold-tie":
            # A missing gold label becomes a tie in the snapshot (the factory's rule).
            assert link.value == 3 and '<option value="tie" selected>' in html

    listing = client.get(
        reverse("datasets:reference_sets", kwargs={"project": project.slug})
    ).content.decode()
    list_links = figure_links(listing)
    assert [link.kind for link in list_links] == ["items", "domain", "domain", "domain"]
    for link in list_links:
        assert len(_rows(client.get(link.path).content.decode())) == link.value, link
