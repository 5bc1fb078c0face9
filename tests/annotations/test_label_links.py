"""A queue's label counts open its labels page, filtered to exactly the labels counted."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.annotations import services
from apps.annotations.models import Annotation
from tests.factories import make_queue, make_simple_dataset
from tests.figure_links import figure_links

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queue(project: Any, annotators: list[Any]) -> Any:
    """Three annotators, two labels per pair, 6 pairs in two domains; all but a few labelled."""
    dataset = make_simple_dataset(project, n=6, domains=("code", "chat"))
    queue = make_queue(project, dataset=dataset, annotators=annotators[:3], overlap=2)
    choices = itertools.cycle(["A", "B", "A", "tie", "B"])
    for annotator, rounds in zip(annotators[:3], (4, 3, 2), strict=True):
        for _ in range(rounds):
            assignment = services.assignment_next(queue=queue, annotator=annotator)
            assert assignment is not None
            services.annotation_submit(assignment=assignment, choice=next(choices))
    assert Annotation.objects.filter(queue=queue).count() == 9
    return queue


def _rows(html: str) -> int:
    return html.count("<tr data-label-row>")


def test_every_label_count_of_the_queue_page_opens_those_labels(
    project: Any, members: dict[str, Any], queue: Any
) -> None:
    client = Client()
    client.force_login(members["admin"])
    page = reverse("annotations:queue", kwargs={"project": project.slug, "queue": queue.pk})
    labels_url = reverse("annotations:labels", kwargs={"project": project.slug, "queue": queue.pk})
    links = [
        link
        for link in figure_links(client.get(page).content.decode())
        if link.path.startswith(labels_url)
    ]
    kinds = [link.kind for link in links]
    # The progress figure and the agreement's total, each annotator twice (work and agreement
    # tables), each label value, each domain.
    assert kinds.count("labels") == 2
    assert kinds.count("annotator-labels") == 6
    assert {"choice-A", "choice-B", "choice-tie"} <= set(kinds)
    assert kinds.count("domain-labels") == 2
    assert f"{labels_url}?choice=tie" in {link.href for link in links}
    for link in links:
        html = client.get(link.path).content.decode()
        assert _rows(html) == link.value, link
        assert f"{link.value} label" in html
    ann1 = client.get(labels_url, {"annotator": "ann1"}).content.decode()
    assert ann1.count("<td>ann1</td>") == 4 and "<td>ann2</td>" not in ann1


def test_the_labels_page_filters_in_place_and_is_for_admins(
    project: Any, members: dict[str, Any], queue: Any, annotators: list[Any]
) -> None:
    labels_url = reverse("annotations:labels", kwargs={"project": project.slug, "queue": queue.pk})
    client = Client()
    client.force_login(members["admin"])
    partial = client.get(labels_url, {"choice": "B", "domain": "code"}, **HTMX).content.decode()
    expected = Annotation.objects.filter(queue=queue, choice="B", pair__domain="code").count()
    assert "<html" not in partial and _rows(partial) == expected
    client.force_login(annotators[0])
    assert client.get(labels_url).status_code == 403


def test_the_queue_list_label_count_opens_the_labels(
    project: Any, members: dict[str, Any], queue: Any
) -> None:
    client = Client()
    client.force_login(members["admin"])
    html = client.get(
        reverse("annotations:list", kwargs={"project": project.slug})
    ).content.decode()
    labels_url = reverse("annotations:labels", kwargs={"project": project.slug, "queue": queue.pk})
    assert f'href="{labels_url}"' in html and "data-labels-done>9</a>" in html
    assert _rows(client.get(labels_url).content.decode()) == 9
