"""Handing out pairs: k distinct annotators, never a pair twice, skip, undo, order."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import Role
from apps.annotations import selectors, services
from apps.annotations.models import Annotation, Assignment, AssignmentStatus
from tests.factories import criteria_for, make_queue, make_simple_dataset, make_version

pytestmark = pytest.mark.django_db


def label_all(queue: Any, annotator: Any, choice: str = "A") -> list[int]:
    """Label everything the queue hands ``annotator``; the pair ids in the order handed out."""
    seen = []
    while (assignment := services.assignment_next(queue=queue, annotator=annotator)) is not None:
        seen.append(assignment.pair_id)
        services.annotation_submit(assignment=assignment, choice=choice)
    return seen


def test_each_pair_gets_k_distinct_annotators(project: Any, annotators: list[Any]) -> None:
    dataset = make_simple_dataset(project, n=6)
    queue = make_queue(project, dataset=dataset, annotators=annotators[:3], overlap=2)

    handed = {annotator.username: label_all(queue, annotator) for annotator in annotators[:3]}

    done = Assignment.objects.filter(queue=queue, status=AssignmentStatus.DONE)
    per_pair: dict[int, list[int]] = defaultdict(list)
    for pair_id, annotator_id in done.values_list("pair_id", "annotator_id"):
        per_pair[pair_id].append(annotator_id)
    assert set(per_pair) == set(dataset.pairs.values_list("id", flat=True))
    assert all(len(ids) == 2 and len(set(ids)) == 2 for ids in per_pair.values())
    for username, pair_ids in handed.items():
        assert len(pair_ids) == len(set(pair_ids)), f"{username} saw a pair twice"
    # Labelling one after the other, the first two annotators fill both slots of every pair.
    assert sorted(len(ids) for ids in handed.values()) == [0, 6, 6]
    assert Annotation.objects.filter(queue=queue).count() == 12
    slots = Counter(done.values_list("pair_id", "slot"))
    assert max(slots.values()) == 1


def test_the_open_assignment_comes_back_until_it_is_labelled(
    project: Any, annotators: list[Any]
) -> None:
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=3), annotators=annotators[:1]
    )
    first = services.assignment_next(queue=queue, annotator=annotators[0])
    again = services.assignment_next(queue=queue, annotator=annotators[0])
    assert first is not None and again is not None
    assert again.pk == first.pk
    assert Assignment.objects.filter(queue=queue).count() == 1


def test_skip_releases_the_slot_for_someone_else(project: Any, annotators: list[Any]) -> None:
    one, two = annotators[:2]
    queue = make_queue(project, dataset=make_simple_dataset(project, n=1), annotators=[one, two])
    assignment = services.assignment_next(queue=queue, annotator=one)
    assert assignment is not None
    assert services.assignment_next(queue=queue, annotator=two) is None  # the only slot is taken

    services.assignment_skip(assignment=assignment)

    # The skipper is not given the pair again; the other annotator gets its slot.
    assert services.assignment_next(queue=queue, annotator=one) is None
    taken = services.assignment_next(queue=queue, annotator=two)
    assert taken is not None
    assert taken.pair_id == assignment.pair_id
    assert taken.slot == assignment.slot
    with pytest.raises(services.AssignmentClosed):
        services.assignment_skip(assignment=assignment)


def test_undo_reopens_the_last_label_and_releases_the_next_pair(
    project: Any, annotators: list[Any]
) -> None:
    annotator = annotators[0]
    queue = make_queue(project, dataset=make_simple_dataset(project, n=3), annotators=[annotator])
    first = services.assignment_next(queue=queue, annotator=annotator)
    assert first is not None
    services.annotation_submit(assignment=first, choice="B", rationale="clearer", confidence=4)
    second = services.assignment_next(queue=queue, annotator=annotator)
    assert second is not None and second.pair_id != first.pair_id

    result = services.annotation_undo(queue=queue, annotator=annotator)

    assert result is not None
    assert result.assignment.pk == first.pk
    assert (result.choice, result.rationale, result.confidence) == ("B", "clearer", 4)
    assert not Annotation.objects.filter(queue=queue).exists()
    assert not Assignment.objects.filter(pk=second.pk).exists()  # back in the pool
    reopened = services.assignment_next(queue=queue, annotator=annotator)
    assert reopened is not None and reopened.pk == first.pk
    assert reopened.status == AssignmentStatus.ASSIGNED
    assert selectors.annotator_progress(queue=queue, annotator=annotator)["done"] == 0
    # Labelling again works, and with nothing labelled there is nothing to undo.
    services.annotation_submit(assignment=reopened, choice="A")
    assert services.annotation_undo(queue=queue, annotator=annotator) is not None
    assert services.annotation_undo(queue=queue, annotator=annotator) is None


def test_a_label_closes_the_assignment_once(project: Any, annotators: list[Any]) -> None:
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=2), annotators=annotators[:1]
    )
    assignment = services.assignment_next(queue=queue, annotator=annotators[0])
    assert assignment is not None
    services.annotation_submit(assignment=assignment, choice="tie")
    with pytest.raises(services.AssignmentClosed):
        services.annotation_submit(assignment=assignment, choice="A")
    assert Annotation.objects.get(queue=queue).choice == "tie"


def test_submit_validates_choice_and_criteria(project: Any, annotators: list[Any]) -> None:
    version = make_version(project, criteria=criteria_for("helpful", "safe"), published=False)
    queue = make_queue(
        project,
        dataset=make_simple_dataset(project, n=2),
        annotators=annotators[:1],
        rubric_version=version,
    )
    assignment = services.assignment_next(queue=queue, annotator=annotators[0])
    assert assignment is not None
    helpful, safe = version.criteria.order_by("position")
    with pytest.raises(ValidationError):
        services.annotation_submit(assignment=assignment, choice="C")
    with pytest.raises(ValidationError):
        services.annotation_submit(assignment=assignment, choice="A", criteria={"9999": "A"})
    with pytest.raises(ValidationError):
        services.annotation_submit(assignment=assignment, choice="A", criteria={helpful.pk: "X"})
    with pytest.raises(ValidationError):
        services.annotation_submit(assignment=assignment, choice="A", confidence=9)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ASSIGNED  # nothing was written

    annotation = services.annotation_submit(
        assignment=assignment, choice="b", criteria={str(helpful.pk): "A", "safe": "tie"}
    )
    assert annotation.choice == "B"
    assert annotation.criteria == {str(helpful.pk): "A", str(safe.pk): "tie"}


def test_pairs_come_in_a_stable_shuffled_order_per_queue(
    project: Any, annotators: list[Any]
) -> None:
    dataset = make_simple_dataset(project, n=30)
    ids = list(dataset.pairs.order_by("id").values_list("id", flat=True))
    first = make_queue(project, dataset=dataset, annotators=annotators[:1])
    second = make_queue(project, dataset=dataset, annotators=annotators[:1])

    def order(queue: Any) -> list[int]:
        return list(
            selectors.shuffled(selectors.queue_pairs(queue=queue), queue=queue).values_list(
                "id", flat=True
            )
        )

    assert sorted(order(first)) == ids
    assert order(first) == order(first)
    assert order(first) != ids
    assert order(first) != order(second)
    # The annotator is handed the pairs in exactly that order.
    assert label_all(first, annotators[0]) == order(first)


def test_domains_limit_the_queue(project: Any, annotators: list[Any]) -> None:
    dataset = make_simple_dataset(project, n=6, domains=("code", "safety"))
    queue = make_queue(project, dataset=dataset, annotators=annotators[:1], domains=["safety"])
    handed = label_all(queue, annotators[0])
    assert len(handed) == 3
    assert set(dataset.pairs.filter(id__in=handed).values_list("domain", flat=True)) == {"safety"}


def test_only_the_queue_annotators_get_pairs(
    project: Any, annotators: list[Any], make_user: Any
) -> None:
    viewer = make_user("viewer-x", project=project, role=Role.VIEWER)
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=2), annotators=annotators[:1]
    )
    with pytest.raises(PermissionDenied):
        services.assignment_next(queue=queue, annotator=annotators[1])
    with pytest.raises(PermissionDenied):
        services.assignment_next(queue=queue, annotator=viewer)


def test_queue_creation_checks_its_inputs(
    project: Any, other_project: Any, annotators: list[Any], make_user: Any
) -> None:
    dataset = make_simple_dataset(project, n=2, domains=("code",))
    viewer = make_user("viewer-y", project=project, role=Role.VIEWER)
    with pytest.raises(ValidationError, match="overlap"):
        make_queue(project, dataset=dataset, annotators=annotators[:1], overlap=2)
    with pytest.raises(ValidationError, match="may annotate"):
        make_queue(project, dataset=dataset, annotators=[annotators[0], viewer])
    with pytest.raises(ValidationError, match="no pairs in"):
        make_queue(project, dataset=dataset, annotators=annotators[:1], domains=["law"])
    with pytest.raises(ValidationError, match="min_agreement"):
        make_queue(project, dataset=dataset, annotators=annotators[:1], min_agreement=0)
    foreign = make_simple_dataset(other_project, n=1)
    with pytest.raises(ValidationError, match="dataset"):
        make_queue(project, dataset=foreign, annotators=annotators[:1])


def test_removing_an_annotator_releases_their_open_pair(
    project: Any, annotators: list[Any], admin: Any
) -> None:
    one, two = annotators[:2]
    queue = make_queue(project, dataset=make_simple_dataset(project, n=1), annotators=[one, two])
    assert services.assignment_next(queue=queue, annotator=one) is not None
    services.annotation_queue_update(actor=admin, queue=queue, annotators=[two])
    assert services.assignment_next(queue=queue, annotator=two) is not None
    with pytest.raises(PermissionDenied):
        services.assignment_next(queue=queue, annotator=one)


def test_progress_counts_what_is_left_for_the_annotator(
    project: Any, annotators: list[Any]
) -> None:
    one, two = annotators[:2]
    queue = make_queue(project, dataset=make_simple_dataset(project, n=4), annotators=[one, two])
    assert selectors.annotator_progress(queue=queue, annotator=one) == {
        "done": 0,
        "total": 4,
        "skipped": 0,
    }
    assignment = services.assignment_next(queue=queue, annotator=one)
    assert assignment is not None
    services.annotation_submit(assignment=assignment, choice="A")
    skipped = services.assignment_next(queue=queue, annotator=one)
    assert skipped is not None
    services.assignment_skip(assignment=skipped)
    assert selectors.annotator_progress(queue=queue, annotator=one) == {
        "done": 1,
        "total": 3,
        "skipped": 1,
    }
    # The other annotator gets the skipped pair first (it comes first in the queue's order),
    # then one ``one`` has not reached: with overlap 1 that one is no longer ``one``'s to do.
    taken = services.assignment_next(queue=queue, annotator=two)
    assert taken is not None and taken.pair_id == skipped.pair_id
    services.annotation_submit(assignment=taken, choice="B")
    assert services.assignment_next(queue=queue, annotator=two) is not None
    progress = selectors.annotator_progress(queue=queue, annotator=one)
    assert progress == {"done": 1, "total": 2, "skipped": 1}
