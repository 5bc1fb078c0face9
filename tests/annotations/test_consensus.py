"""Consensus per pair, adjudication, and the labels a reference set takes from a queue."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.annotations import selectors, services
from apps.annotations.models import Adjudication
from apps.core.models import AuditEvent
from apps.datasets import services as datasets_services
from tests.factories import make_queue, make_simple_dataset

pytestmark = pytest.mark.django_db


def label(queue: Any, annotator: Any, choices: dict[int, str | None]) -> None:
    """Have ``annotator`` label every pair handed to them: ``choices[pair index]``, or skip
    the pair where the choice is None."""
    while (assignment := services.assignment_next(queue=queue, annotator=annotator)) is not None:
        choice = choices[int(assignment.pair.external_id.removeprefix("p"))]
        if choice is None:
            services.assignment_skip(assignment=assignment)
        else:
            services.annotation_submit(assignment=assignment, choice=choice)


@pytest.fixture
def voted(project: Any, annotators: list[Any]) -> Any:
    """Four pairs for three annotators each: agreement, a 2-1 majority, a three-way split, and
    a pair the third annotator skipped (still waiting for its third label)."""
    dataset = make_simple_dataset(project, n=4)
    queue = make_queue(project, dataset=dataset, annotators=annotators[:3], overlap=3)
    one, two, three = annotators[:3]
    label(queue, one, {0: "A", 1: "A", 2: "A", 3: "B"})
    label(queue, two, {0: "A", 1: "B", 2: "B", 3: "B"})
    label(queue, three, {0: "A", 1: "A", 2: "tie", 3: None})
    return queue


def by_index(queue: Any) -> dict[int, Any]:
    pairs = {pair.pk: int(pair.external_id[1:]) for pair in queue.dataset.pairs.all()}
    return {pairs[pair_id]: row for pair_id, row in selectors.queue_votes(queue=queue).items()}


def test_consensus_needs_all_labels_and_the_threshold(voted: Any) -> None:
    rows = by_index(voted)
    assert (rows[0].consensus, rows[0].state) == ("A", selectors.PairState.CONSENSUS)
    assert (rows[1].consensus, rows[1].state) == ("A", selectors.PairState.CONSENSUS)
    assert (rows[2].consensus, rows[2].state) == (None, selectors.PairState.DISPUTED)
    # Two B labels of three would be a majority, but the third label is not in yet.
    assert (rows[3].consensus, rows[3].state) == (None, selectors.PairState.PENDING)
    assert rows[1].counts == {"A": 2, "B": 1, "tie": 0}
    assert selectors.consensus_summary(queue=voted) == {
        "pending": 1,
        "consensus": 2,
        "disputed": 1,
        "adjudicated": 0,
    }
    labels = services.queue_consensus_labels(queue=voted)
    assert {index: labels.get(row.pair_id) for index, row in rows.items()} == {
        0: ("A", "consensus"),
        1: ("A", "consensus"),
        2: None,
        3: None,
    }


def test_a_stricter_threshold_turns_majorities_into_disputes(voted: Any, admin: Any) -> None:
    before = selectors.consensus_summary(queue=voted)
    services.annotation_queue_update(actor=admin, queue=voted, min_agreement=1.0)
    after = selectors.consensus_summary(queue=voted)
    # Only the 2-1 pair changes: 2 of 3 is below a threshold of 1.
    assert after["consensus"] == before["consensus"] - 1
    assert after["disputed"] == before["disputed"] + 1
    assert by_index(voted)[1].state == selectors.PairState.DISPUTED


def test_adjudication_wins_and_is_audited(voted: Any, admin: Any) -> None:
    disputed = [row for row in selectors.adjudication_rows(queue=voted)]
    assert disputed and all(row.state == selectors.PairState.DISPUTED for row in disputed)
    pair = disputed[0].pair
    assert pair is not None
    labels = services.queue_consensus_labels(queue=voted)
    assert pair.pk not in labels  # no consensus, no adjudication: left out

    services.adjudication_set(actor=admin, queue=voted, pair=pair, label="tie", reason="both fine")

    labels = services.queue_consensus_labels(queue=voted)
    assert labels[pair.pk] == ("tie", "adjudicated")
    consensus_pairs = [
        pair_id for pair_id, row in selectors.queue_votes(queue=voted).items() if row.consensus
    ]
    assert consensus_pairs
    for pair_id in consensus_pairs:
        assert labels[pair_id][1] == "consensus"
    # Overriding a consensus pair is possible too: the admin's label wins.
    consensus_pair = voted.dataset.pairs.get(pk=consensus_pairs[0])
    services.adjudication_set(actor=admin, queue=voted, pair=consensus_pair, label="B")
    assert services.queue_consensus_labels(queue=voted)[consensus_pair.pk] == ("B", "adjudicated")

    event = AuditEvent.objects.filter(action="annotation.adjudicate").order_by("at", "id").first()
    assert event is not None
    assert event.actor == admin
    assert event.after is not None and event.after["label"] == "tie"
    assert sorted(event.after["votes"].values()) == ["A", "B", "tie"]

    assert services.adjudication_clear(actor=admin, queue=voted, pair=pair)
    assert pair.pk not in services.queue_consensus_labels(queue=voted)
    assert AuditEvent.objects.filter(action="annotation.adjudication_clear").count() == 1
    assert not Adjudication.objects.filter(queue=voted, pair=pair).exists()


def test_adjudication_refuses_pairs_outside_the_queue(voted: Any, admin: Any, project: Any) -> None:
    other = make_simple_dataset(project, n=1).pairs.get()
    with pytest.raises(ValidationError):
        services.adjudication_set(actor=admin, queue=voted, pair=other, label="A")
    with pytest.raises(ValidationError):
        services.adjudication_set(
            actor=admin, queue=voted, pair=voted.dataset.pairs.first(), label="maybe"
        )


def test_queue_creation_is_audited(project: Any, annotators: list[Any], admin: Any) -> None:
    queue = make_queue(
        project,
        dataset=make_simple_dataset(project, n=2),
        annotators=annotators[:2],
        overlap=2,
        actor=admin,
    )
    event = AuditEvent.objects.get(action="annotation_queue.create")
    assert event.object_id == str(queue.pk)
    assert event.after is not None
    assert event.after["annotators"] == sorted(a.username for a in annotators[:2])
    assert event.after["overlap"] == 2


def test_a_reference_set_freezes_consensus_and_adjudication(voted: Any, admin: Any) -> None:
    rows = by_index(voted)
    disputed = voted.dataset.pairs.get(pk=rows[2].pair_id)
    services.adjudication_set(actor=admin, queue=voted, pair=disputed, label="B")

    snapshot = datasets_services.reference_set_create(
        actor=admin, project=voted.project, name="From the queue", source=("queue", voted.pk)
    )

    items = {item.pair_id: (item.gold_label, item.source) for item in snapshot.items.all()}
    assert items == {
        rows[0].pair_id: ("A", "consensus"),
        rows[1].pair_id: ("A", "consensus"),
        rows[2].pair_id: ("B", "adjudicated"),
    }
    assert snapshot.unlabelled_count == 1  # the pair still waiting for its third label
