"""A queue's pair-state counts open its pairs page, filtered to exactly the pairs counted."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.annotations import selectors, services
from apps.datasets.models import Pair
from tests.factories import make_queue, make_simple_dataset
from tests.figure_links import figure_links

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE_ID = "<img src=x onerror=1>"
HOSTILE_DOMAIN = "<i>chat</i>"
# ann2's label per pair (ann1 always says A): agreeing, disagreeing, or none at all.
# p3 is renamed to HOSTILE_ID before anyone labels it.
SECOND_LABEL = {"p0": "A", "p1": "A", "p2": "A", HOSTILE_ID: "B", "p4": "B", "p5": None}


@pytest.fixture
def queue(project: Any, annotators: list[Any], admin: Any) -> Any:
    """Two labels per pair, 6 pairs: 3 by consensus, 1 disputed, 1 adjudicated, 1 incomplete."""
    dataset = make_simple_dataset(project, n=6, domains=("code", HOSTILE_DOMAIN))
    Pair.objects.filter(dataset=dataset, external_id="p3").update(external_id=HOSTILE_ID)
    queue = make_queue(project, dataset=dataset, annotators=annotators[:2], overlap=2)
    for annotator in annotators[:2]:
        while (
            assignment := services.assignment_next(queue=queue, annotator=annotator)
        ) is not None:
            external_id = assignment.pair.external_id
            label = SECOND_LABEL.get(external_id, "B") if annotator == annotators[1] else "A"
            if label is None:
                services.assignment_skip(assignment=assignment)
            else:
                services.annotation_submit(assignment=assignment, choice=label)
    services.adjudication_set(
        actor=admin,
        queue=queue,
        pair=Pair.objects.get(dataset=dataset, external_id="p4"),
        label="B",
    )
    return queue


def _rows(html: str) -> int:
    return html.count("<tr data-pair-row")


def _pairs_url(project: Any, queue: Any) -> str:
    return reverse("annotations:pairs", kwargs={"project": project.slug, "queue": queue.pk})


def test_each_pair_state_count_of_the_queue_page_opens_those_pairs(
    project: Any, members: dict[str, Any], queue: Any
) -> None:
    assert selectors.consensus_summary(queue=queue) == {
        "pending": 1,
        "consensus": 3,
        "disputed": 1,
        "adjudicated": 1,
    }
    client = Client()
    client.force_login(members["admin"])
    page = reverse("annotations:queue", kwargs={"project": project.slug, "queue": queue.pk})
    links = [
        link
        for link in figure_links(client.get(page).content.decode())
        if link.kind.startswith("pairs-")
    ]
    pairs_url = _pairs_url(project, queue)
    assert {(link.kind, link.value, link.href) for link in links} == {
        ("pairs-all", 6, pairs_url),
        ("pairs-consensus", 3, f"{pairs_url}?state=consensus"),
        ("pairs-disputed", 1, f"{pairs_url}?state=disputed"),
        ("pairs-adjudicated", 1, f"{pairs_url}?state=adjudicated"),
        ("pairs-complete", 5, f"{pairs_url}?labels=complete"),
    }
    for link in links:
        html = client.get(link.path).content.decode()
        assert _rows(html) == link.value, link
        assert f"{link.value} pair" in html
        if link.kind not in ("pairs-all", "pairs-complete"):
            state = link.kind.removeprefix("pairs-")
            assert html.count(f'class="state-{state}"') == link.value
    every = client.get(pairs_url).content.decode()
    assert _rows(every) == 6 and "incomplete" in every
    adjudicated = client.get(pairs_url, {"state": "adjudicated"}).content.decode()
    assert (
        "ann1: A" in adjudicated
        and "ann2: B" in adjudicated
        and "adjudicated</span>" in adjudicated
    )


def test_complete_pairs_open_the_pairs_with_all_their_labels_in(
    project: Any, members: dict[str, Any], queue: Any
) -> None:
    client = Client()
    client.force_login(members["admin"])
    listed = figure_links(
        client.get(reverse("annotations:list", kwargs={"project": project.slug})).content.decode()
    )
    pairs_url = _pairs_url(project, queue)
    assert {(link.kind, link.value, link.href) for link in listed} >= {
        (
            "pairs-complete",
            selectors.queue_progress(queue=queue)["complete_pairs"],
            f"{pairs_url}?labels=complete",
        ),
        ("pairs-all", 6, pairs_url),
    }
    complete = client.get(pairs_url, {"labels": "complete"}).content.decode()
    missing = client.get(pairs_url, {"labels": "incomplete"}).content.decode()
    # p5 has one label of two (its second annotator skipped it); every other pair has both.
    assert _rows(complete) == 5 and "p5" not in complete
    assert _rows(missing) == 1 and "p5" in missing
    # Complete is not a state: the disputed pair and the adjudicated one are complete too.
    both = client.get(pairs_url, {"labels": "complete", "state": "disputed"}).content.decode()
    assert _rows(both) == 1


def test_the_pairs_page_filters_in_place_and_is_for_admins(
    project: Any, members: dict[str, Any], queue: Any, annotators: list[Any]
) -> None:
    pairs_url = _pairs_url(project, queue)
    client = Client()
    client.force_login(members["admin"])
    partial = client.get(pairs_url, {"state": "consensus", "domain": "code"}, **HTMX)
    html = partial.content.decode()
    expected = selectors.pairs_in_state(queue=queue, state="consensus").filter(domain="code")
    assert "<html" not in html and _rows(html) == expected.count() > 0
    incomplete = client.get(pairs_url, {"state": "pending"}).content.decode()
    assert _rows(incomplete) == 1 and "p5" in incomplete
    client.force_login(annotators[0])
    assert client.get(pairs_url).status_code == 403


def test_pair_and_domain_text_is_escaped(project: Any, members: dict[str, Any], queue: Any) -> None:
    client = Client()
    client.force_login(members["admin"])
    html = client.get(_pairs_url(project, queue), {"state": "disputed"}).content.decode()
    assert _rows(html) == 1
    assert HOSTILE_ID not in html and "&lt;img src=x onerror=1&gt;" in html
    assert HOSTILE_DOMAIN not in html and "&lt;i&gt;chat&lt;/i&gt;" in html
