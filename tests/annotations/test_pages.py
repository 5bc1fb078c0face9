"""Annotation pages: the annotator's queues, the labelling page and its htmx swaps, admin pages."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.annotations import services
from apps.annotations.models import Adjudication, Annotation, AnnotationQueue, Assignment
from apps.datasets.models import Pair
from tests.factories import criteria_for, make_queue, make_simple_dataset, make_version

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, project: Any, **kwargs: Any) -> str:
    return reverse(f"annotations:{name}", kwargs={"project": project.slug, **kwargs})


@pytest.fixture
def queue(project: Any, annotators: list[Any]) -> AnnotationQueue:
    turns = [
        {"role": "human", "text": "First question"},
        {"role": "assistant", "text": "An answer"},
    ]
    dataset = make_simple_dataset(
        project, n=3, gold="B", metadata={"turns": turns, "cmp_key": "secret-model_other-model"}
    )
    Pair.objects.filter(dataset=dataset, external_id="p0").update(
        response_a="<script>alert('x')</script><b>bold</b>"
    )
    return make_queue(
        project,
        dataset=dataset,
        annotators=annotators[:2],
        rubric_version=make_version(
            project, criteria=criteria_for("helpful", "harmless"), published=False
        ),
        instructions="Prefer <em>safe</em> answers.",
        name="Safety pass",
    )


def test_the_list_shows_assigned_queues_with_progress(
    project: Any, queue: AnnotationQueue, annotators: list[Any], members: dict[str, Any]
) -> None:
    page = client_for(annotators[0]).get(url("list", project))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Safety pass" in html
    assert "0</strong> of 3 labelled" in html
    assert "All queues" not in html and "New queue" not in html
    admin_page = client_for(members["admin"]).get(url("list", project)).content.decode()
    assert "All queues" in admin_page and "New queue" in admin_page
    assert client_for(members["viewer"]).get(url("list", project)).status_code == 403


def test_the_labelling_page_is_blind_escaped_and_script_free(
    project: Any, queue: AnnotationQueue, annotators: list[Any]
) -> None:
    # Make the pair with hostile text come first.
    services.assignment_next(queue=queue, annotator=annotators[0])
    Assignment.objects.filter(queue=queue).update(pair=queue.dataset.pairs.get(external_id="p0"))
    html = client_for(annotators[0]).get(url("label", project, queue=queue.pk)).content.decode()

    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html
    assert "Prefer &lt;em&gt;safe&lt;/em&gt; answers." in html
    assert "<b>bold</b>" not in html
    assert "First question" in html and "turn-assistant" in html
    assert "Harmless" in html and "Helpful" in html  # criteria as guidelines and choices
    assert "secret-model" not in html  # metadata other than the turns stays hidden
    assert "gold" not in html.lower() and "preferred" not in html.lower()
    assert 'data-key="1"' in html and 'data-key="s"' in html and 'data-key="u"' in html
    # Content-Security-Policy friendly: scripts only by src, no inline handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert "js/annotations.js" in html


def test_unassigned_members_cannot_label(
    project: Any, queue: AnnotationQueue, annotators: list[Any], members: dict[str, Any]
) -> None:
    assert client_for(annotators[2]).get(url("label", project, queue=queue.pk)).status_code == 403
    assert (
        client_for(members["viewer"]).get(url("label", project, queue=queue.pk)).status_code == 403
    )
    response = client_for(annotators[2]).post(
        url("submit", project, queue=queue.pk), {"choice": "A"}
    )
    assert response.status_code == 403
    assert not Assignment.objects.exists()


def test_htmx_submit_swaps_in_the_next_pair(
    project: Any, queue: AnnotationQueue, annotators: list[Any]
) -> None:
    annotator = annotators[0]
    client = client_for(annotator)
    client.get(url("label", project, queue=queue.pk))
    first = Assignment.objects.get(queue=queue, annotator=annotator)
    helpful = queue.rubric_version.criteria.get(key="helpful")  # type: ignore[union-attr]
    response = client.post(
        url("submit", project, queue=queue.pk),
        {
            "assignment": first.pk,
            "choice": "tie",
            f"criterion-{helpful.pk}": "B",
            "rationale": "Equally good.",
            "confidence": "4",
            "time_spent_ms": "5300",
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workspace"')
    assert "<html" not in html
    assert "Saved: Tie" in html
    assert "1</strong> / <span data-progress-total>3" in html
    annotation = Annotation.objects.get(queue=queue, annotator=annotator)
    assert (annotation.choice, annotation.confidence, annotation.time_spent_ms) == ("tie", 4, 5300)
    assert annotation.criteria == {str(helpful.pk): "B"}
    current = Assignment.objects.get(queue=queue, annotator=annotator, status="assigned")
    assert current.pair_id != first.pair_id
    assert f'name="assignment" value="{current.pk}"' in html

    skipped = client.post(url("skip", project, queue=queue.pk), {"assignment": current.pk}, **HTMX)
    assert "Skipped" in skipped.content.decode()

    undone = client.post(url("undo", project, queue=queue.pk), {}, **HTMX).content.decode()
    assert "Undone: you had chosen Tie" in undone
    assert f'name="assignment" value="{first.pk}"' in undone
    assert "Equally good." in undone  # the form is filled again with what was undone
    assert not Annotation.objects.filter(queue=queue).exists()


def test_a_stale_or_foreign_assignment_is_refused_gently(
    project: Any, queue: AnnotationQueue, annotators: list[Any]
) -> None:
    one, two = annotators[:2]
    theirs = services.assignment_next(queue=queue, annotator=two)
    assert theirs is not None
    response = client_for(one).post(
        url("submit", project, queue=queue.pk), {"assignment": theirs.pk, "choice": "A"}, **HTMX
    )
    assert "no longer open for you" in response.content.decode()
    assert not Annotation.objects.exists()


def test_without_javascript_the_forms_post_and_redirect(
    project: Any, queue: AnnotationQueue, annotators: list[Any]
) -> None:
    client = client_for(annotators[0])
    client.get(url("label", project, queue=queue.pk))
    assignment = Assignment.objects.get(queue=queue)
    response = client.post(
        url("submit", project, queue=queue.pk), {"assignment": assignment.pk, "choice": "A"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("label", project, queue=queue.pk)
    assert Annotation.objects.get().choice == "A"


def test_when_nothing_is_left_the_page_says_so(
    project: Any, queue: AnnotationQueue, annotators: list[Any]
) -> None:
    while (
        assignment := services.assignment_next(queue=queue, annotator=annotators[0])
    ) is not None:
        services.annotation_submit(assignment=assignment, choice="A")
    html = client_for(annotators[0]).get(url("label", project, queue=queue.pk)).content.decode()
    assert "Nothing left for you in this queue" in html
    assert "3</strong> / <span data-progress-total>3" in html


def test_admins_create_a_queue_from_the_page(
    project: Any, members: dict[str, Any], annotators: list[Any]
) -> None:
    dataset = make_simple_dataset(project, n=4, domains=("code", "safety"))
    client = client_for(members["admin"])
    domains = client.get(url("create", project), {"dataset": dataset.pk}, **HTMX).content.decode()
    assert domains.lstrip().startswith('<fieldset id="domains-field"')
    assert 'value="safety"' in domains and 'value="code"' in domains
    response = client.post(
        url("create", project),
        {
            "dataset": dataset.pk,
            "domains": ["safety"],
            "overlap": 2,
            "min_agreement": 0.5,
            "annotators": [annotators[0].pk, annotators[1].pk],
            "name": "",
        },
    )
    queue = AnnotationQueue.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("queue", project, queue=queue.pk)
    assert (queue.domains, queue.overlap, queue.name) == (["safety"], 2, f"Label {dataset.name}")
    assert set(queue.annotators.all()) == set(annotators[:2])

    too_few = client.post(
        url("create", project),
        {
            "dataset": dataset.pk,
            "overlap": 3,
            "min_agreement": 0.5,
            "annotators": [annotators[0].pk],
        },
    )
    assert too_few.status_code == 400
    assert "needs at least 3 annotators" in too_few.content.decode()
    assert client_for(members["author"]).get(url("create", project)).status_code == 403


def test_the_queue_page_shows_agreement_and_adjudicates(
    project: Any, members: dict[str, Any], annotators: list[Any]
) -> None:
    dataset = make_simple_dataset(project, n=2)
    one, two = annotators[:2]
    queue = make_queue(project, dataset=dataset, annotators=[one, two], overlap=2)
    for annotator, choice in ((one, "A"), (two, "B")):
        while (
            assignment := services.assignment_next(queue=queue, annotator=annotator)
        ) is not None:
            services.annotation_submit(
                assignment=assignment, choice=choice, rationale="=HYPERLINK(1)", time_spent_ms=1000
            )
    client = client_for(members["admin"])
    html = client.get(url("queue", project, queue=queue.pk)).content.decode()
    assert "Cohen" in html and "Krippendorff" in html and "Fleiss" in html
    assert html.count('class="adjudication-row state-disputed"') == 2
    assert (
        client_for(members["author"]).get(url("queue", project, queue=queue.pk)).status_code == 403
    )

    pair = dataset.pairs.first()
    assert pair is not None
    row = client.post(
        url("adjudicate", project, queue=queue.pk),
        {"pair": pair.pk, "label": "B", "reason": "B is right."},
        **HTMX,
    ).content.decode()
    assert row.lstrip().startswith(f'<tr id="adjudication-{pair.pk}"')
    assert "state-adjudicated" in row and "Saved." in row
    assert Adjudication.objects.get(queue=queue, pair=pair).label == "B"

    export = client.get(url("export", project, queue=queue.pk))
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert len(rows) == 4
    assert {row["rationale"] for row in rows} == {"'=HYPERLINK(1)"}
    adjudicated = [row for row in rows if row["pair"] == str(pair.pk)]
    assert {row["final_label"] for row in adjudicated} == {"B"}
    assert {row["source"] for row in adjudicated} == {"adjudicated"}


def test_the_dataset_agreement_page(project: Any, members: dict[str, Any], make_user: Any) -> None:
    dataset = make_simple_dataset(project, n=4)
    raters = [make_user(f"pandalm-annotator{i}") for i in (1, 2, 3)]
    for pair in dataset.pairs.all():
        for rater, choice in zip(raters, ("A", "A", "B"), strict=True):
            Annotation.objects.create(pair=pair, annotator=rater, choice=choice, imported=True)
    page = client_for(members["viewer"]).get(url("dataset_agreement", project, dataset=dataset.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "pandalm-annotator3" in html and "Krippendorff" in html
    assert (
        client_for(members["annotator"])
        .get(url("dataset_agreement", project, dataset=dataset.pk))
        .status_code
        == 403
    )


def test_dashboard_card(project: Any, queue: AnnotationQueue, annotators: list[Any]) -> None:
    html = client_for(annotators[0]).get(reverse("dashboard", kwargs={"project": project.slug}))
    text = html.content.decode()
    assert "Annotate" in text and "Waiting for you" in text
