"""Reference sets: frozen snapshots of gold labels, immutable, versioned by name."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.annotations.models import Adjudication, Annotation, AnnotationQueue
from apps.core.models import AuditEvent
from apps.datasets import services
from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet
from tests.datasets.samples import JSONL

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(dataset: Dataset, import_sample: Callable[..., Any]) -> Dataset:
    """The JSONL sample: gold A, B, tie and one pair without a label."""
    import_sample(JSONL)
    return dataset


def _freeze(project: Any, dataset: Dataset, name: str = "Gold", **kwargs: Any) -> ReferenceSet:
    return services.reference_set_create(
        actor=None, project=project, name=name, dataset=dataset, **kwargs
    )


def test_a_snapshot_holds_every_labelled_pair_ties_included(
    project: Any, labelled: Dataset
) -> None:
    reference_set = _freeze(project, labelled)

    labelled_pairs = labelled.pairs.exclude(gold_label=None)
    assert reference_set.version == 1
    assert reference_set.item_count == labelled_pairs.count() == reference_set.items.count()
    assert reference_set.unlabelled_count == labelled.pairs.filter(gold_label=None).count() == 1
    assert dict(reference_set.items.values_list("pair_id", "gold_label")) == dict(
        labelled_pairs.values_list("id", "gold_label")
    )
    assert reference_set.items.filter(gold_label="tie").count() == 1
    assert set(reference_set.items.values_list("source", flat=True)) == {"imported"}
    assert reference_set.domain_counts == dict(
        Counter(labelled_pairs.values_list("domain", flat=True))
    )


def test_the_content_hash_covers_pairs_and_labels(project: Any, labelled: Dataset) -> None:
    reference_set = _freeze(project, labelled)
    lines = sorted(
        f"{pair_hash}\t{label}\n"
        for pair_hash, label in reference_set.items.values_list("pair__content_hash", "gold_label")
    )
    assert reference_set.content_hash == hashlib.sha256("".join(lines).encode()).hexdigest()


def test_snapshots_are_immutable(project: Any, labelled: Dataset) -> None:
    reference_set = _freeze(project, labelled)
    item = reference_set.items.first()
    assert item is not None

    reference_set.name = "Renamed"
    with pytest.raises(PermissionError):
        reference_set.save()
    with pytest.raises(PermissionError):
        ReferenceSet.objects.filter(pk=reference_set.pk).update(name="Renamed")
    item.gold_label = "B" if item.gold_label != "B" else "A"
    with pytest.raises(PermissionError):
        item.save()
    with pytest.raises(PermissionError):
        ReferenceItem.objects.filter(reference_set=reference_set).update(gold_label="A")

    fresh = ReferenceSet.objects.get(pk=reference_set.pk)
    assert fresh.name == "Gold"
    assert fresh.content_hash == reference_set.content_hash


def test_a_change_makes_a_new_version_and_the_old_one_stays(
    project: Any, labelled: Dataset
) -> None:
    first = _freeze(project, labelled)
    old_items = dict(first.items.values_list("pair_id", "gold_label"))
    unlabelled = labelled.pairs.get(gold_label=None)
    Pair.objects.filter(pk=unlabelled.pk).update(gold_label="B")

    second = _freeze(project, labelled)

    assert (first.version, second.version) == (1, 2)
    assert second.pk != first.pk
    assert second.item_count == first.item_count + 1
    assert second.unlabelled_count == 0
    assert second.content_hash != first.content_hash
    assert dict(first.items.values_list("pair_id", "gold_label")) == old_items
    assert ReferenceSet.objects.filter(project=project, name="Gold").count() == 2


def test_freezing_unchanged_labels_again_reuses_the_latest_version(
    project: Any, labelled: Dataset
) -> None:
    first = _freeze(project, labelled)
    events = AuditEvent.objects.filter(action="reference_set.create").count()
    again = _freeze(project, labelled)
    assert again.pk == first.pk
    assert ReferenceSet.objects.filter(project=project, name="Gold").count() == 1
    assert AuditEvent.objects.filter(action="reference_set.create").count() == events


def test_names_version_independently(project: Any, labelled: Dataset) -> None:
    _freeze(project, labelled, name="One")
    other = _freeze(project, labelled, name="Two")
    assert other.version == 1


def test_creation_is_audited(project: Any, members: dict[str, Any], labelled: Dataset) -> None:
    reference_set = services.reference_set_create(
        actor=members["author"], project=project, name="Gold", dataset=labelled
    )
    event = AuditEvent.objects.get(action="reference_set.create")
    assert event.actor == members["author"]
    assert event.object_id == str(reference_set.pk)
    assert event.after is not None
    assert event.after["items"] == reference_set.item_count
    assert event.after["unlabelled"] == reference_set.unlabelled_count
    assert event.after["ties"] == 1


def test_refusals(project: Any, other_project: Any, labelled: Dataset) -> None:
    with pytest.raises(ValidationError):
        _freeze(project, labelled, name="  ")
    with pytest.raises(ValidationError):
        _freeze(other_project, labelled)
    empty = Dataset.objects.create(project=project, name="Empty")
    with pytest.raises(ValidationError):
        _freeze(project, empty)
    with pytest.raises(ValidationError):
        services.reference_set_create(actor=None, project=project, name="Neither")
    assert not ReferenceSet.objects.exists()


def test_a_snapshot_from_a_queue_takes_consensus_and_adjudication(
    project: Any, make_user: Callable[..., Any], labelled: Dataset
) -> None:
    queue = AnnotationQueue.objects.create(
        project=project, name="Queue", dataset=labelled, overlap=2, min_agreement=0.5
    )
    ann1, ann2 = make_user("ann1"), make_user("ann2")
    pairs = list(labelled.pairs.order_by("id"))
    votes = {pairs[0]: ("B", "B"), pairs[1]: ("A", "B"), pairs[2]: ("tie", "tie")}
    for pair, (first, second) in votes.items():
        Annotation.objects.create(queue=queue, pair=pair, annotator=ann1, choice=first)
        Annotation.objects.create(queue=queue, pair=pair, annotator=ann2, choice=second)
    Adjudication.objects.create(queue=queue, pair=pairs[1], label="A")
    # pairs[3] has no label in the queue at all.

    reference_set = services.reference_set_create(
        actor=None, project=project, name="Consensus", source=("queue", queue.pk)
    )

    items = {item.pair_id: (item.gold_label, item.source) for item in reference_set.items.all()}
    assert items == {
        pairs[0].pk: ("B", "consensus"),
        pairs[1].pk: ("A", "adjudicated"),
        pairs[2].pk: ("tie", "consensus"),
    }
    assert (reference_set.source_kind, reference_set.source_id) == ("queue", queue.pk)
    assert reference_set.source_description == f"consensus of queue {queue.name}"
    assert reference_set.dataset == labelled
    assert reference_set.unlabelled_count == 1
