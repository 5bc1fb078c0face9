"""Many annotators asking for pairs at once: no slot handed out twice, no pair seen twice."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from apps.annotations import services
from apps.annotations.models import Annotation, Assignment, AssignmentStatus
from tests.factories import make_queue, make_simple_dataset

THREADS_PER_ANNOTATOR = 2
PAIRS = 24
OVERLAP = 2


def _work(queue_id: int, annotator_id: int, start: threading.Barrier, errors: list[str]) -> None:
    """Ask for the next pair and label it, until the queue has nothing left for this annotator.

    Two threads share each annotator (two tabs): they are handed the same open assignment, so
    one of their two submissions finds it closed, which is expected.
    """
    from django.contrib.auth import get_user_model

    from apps.annotations.models import AnnotationQueue

    try:
        queue = AnnotationQueue.objects.get(pk=queue_id)
        annotator = get_user_model().objects.get(pk=annotator_id)
        start.wait(timeout=30)
        for _ in range(PAIRS * 4):
            assignment = services.assignment_next(queue=queue, annotator=annotator)
            if assignment is None:
                return
            try:
                services.annotation_submit(
                    assignment=assignment, choice="A" if assignment.pair_id % 2 else "B"
                )
            except services.AssignmentClosed:
                continue
        errors.append(f"annotator {annotator_id} never ran out of pairs")
    except Exception as exc:  # reported by the test thread, with the thread's context
        errors.append(f"annotator {annotator_id}: {exc!r}")
    finally:
        connection.close()


@pytest.mark.slow
def test_concurrent_next_never_double_assigns(
    transactional_db: None, project: Any, annotators: list[Any]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite runs one writing transaction at a time, so requests "
            "cannot race for a slot there (set DATABASE_URL to run this test)"
        )
    dataset = make_simple_dataset(project, n=PAIRS)
    queue = make_queue(project, dataset=dataset, annotators=annotators, overlap=OVERLAP)
    start = threading.Barrier(len(annotators) * THREADS_PER_ANNOTATOR)
    errors: list[str] = []
    threads = [
        threading.Thread(target=_work, args=(queue.pk, annotator.pk, start, errors))
        for annotator in annotators
        for _ in range(THREADS_PER_ANNOTATOR)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    assert not errors, errors

    rows = list(
        Assignment.objects.filter(queue=queue).values_list(
            "pair_id", "annotator_id", "slot", "status"
        )
    )
    live = [(pair, slot) for pair, _, slot, status in rows if status != AssignmentStatus.SKIPPED]
    assert max(Counter(live).values()) == 1, "a slot was handed to two annotators"
    seen = Counter((pair, annotator) for pair, annotator, _, _ in rows)
    assert max(seen.values()) == 1, "an annotator was handed a pair twice"
    done = Counter(pair for pair, _, _, status in rows if status == AssignmentStatus.DONE)
    assert set(done) == set(dataset.pairs.values_list("id", flat=True))
    assert set(done.values()) == {OVERLAP}, "every pair gets exactly k labels"
    assert not [row for row in rows if row[3] == AssignmentStatus.ASSIGNED]
    labels = Annotation.objects.filter(queue=queue)
    assert labels.count() == PAIRS * OVERLAP
    per_pair = Counter(labels.values_list("pair_id", "annotator_id"))
    assert max(per_pair.values()) == 1
