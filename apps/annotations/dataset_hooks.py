"""What the annotations app does for the datasets app, through the seams datasets offers.

Connected in ``AnnotationsConfig.ready()``: an annotation queue is a source of reference-set
labels (its consensus and adjudications), and the labels that a file's own annotators gave
(PandaLM) are stored as imported annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from apps.annotations.models import Annotation, AnnotationQueue
from apps.annotations.selectors import queue_final_labels
from apps.datasets.label_sources import LabelledPair, Labels
from apps.datasets.models import GoldLabel, Pair, ReferenceSource

BATCH_SIZE = 1000


def queue_labels(*, project: Any, pk: int) -> Labels:
    """The labels of queue ``pk`` of ``project``: adjudications, then consensus.

    ``source`` is ``"adjudicated"`` where an admin set the label (it wins over any consensus)
    and ``"consensus"`` where the pair's ``overlap`` labels reached the queue's
    ``min_agreement``; pairs with neither are counted as unlabelled.
    """
    queue = AnnotationQueue.objects.select_related("dataset").filter(pk=pk, project=project).first()
    if queue is None:
        raise ValidationError({"queue": ["No such annotation queue in this project."]})
    labels: Mapping[int, tuple[str | None, str]] = queue_final_labels(queue=queue)
    scope = Pair.objects.filter(dataset=queue.dataset)
    if queue.domains:
        scope = scope.filter(domain__in=queue.domains)
    sources = set(ReferenceSource.values)
    items: list[LabelledPair] = []
    unlabelled = 0
    rows = scope.order_by("id").values_list("id", "content_hash", "domain")
    for pair_id, content_hash, domain in rows.iterator(chunk_size=5000):
        label, source = labels.get(pair_id, (None, ""))
        if label not in GoldLabel.values:
            unlabelled += 1
            continue
        source = source if source in sources else ReferenceSource.CONSENSUS
        items.append(LabelledPair(pair_id, content_hash, domain, str(label), source))
    return Labels(
        kind="queue",
        source_id=queue.pk,
        description=f"consensus of queue {queue.name}",
        dataset=queue.dataset,
        items=items,
        unlabelled=unlabelled,
    )


def imported_annotator_labels_store(
    *, dataset: Any, labels: Mapping[int, Iterable[tuple[str, str]]], **_: Any
) -> int:
    """Store a file's own annotators' labels as imported annotations; how many were stored.

    Runs inside the import's transaction, so a failure here rolls the import back.
    """
    names = {name for pair_labels in labels.values() for name, _ in pair_labels}
    users = _imported_annotators(names)
    rows = [
        Annotation(queue=None, pair_id=pair_id, annotator=users[name], choice=choice, imported=True)
        for pair_id, pair_labels in labels.items()
        for name, choice in pair_labels
    ]
    return len(Annotation.objects.bulk_create(rows, batch_size=BATCH_SIZE))


def _imported_annotators(names: Iterable[str]) -> dict[str, Any]:
    """The users that stand for a source's annotators (``pandalm-annotator1``...).

    They cannot sign in (unusable password) and belong to no project: they exist so imported
    labels sit beside the studio's own annotations and agreement statistics can use both.
    """
    User = get_user_model()
    users: dict[str, Any] = {}
    for name in sorted(set(names)):
        user = User.objects.filter(username=name).first()
        if user is None:
            user = User(username=name)
            user.set_unusable_password()
            user.save()
        users[name] = user
    return users
