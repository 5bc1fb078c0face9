"""Frozen reference snapshots: (pair, gold label) items from a dataset's imported labels or a
registered label source, versioned by name, never changed once written."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Project
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.label_sources import LabelledPair, Labels, labels_from_source
from apps.datasets.models import (
    Dataset,
    GoldLabel,
    Pair,
    ReferenceItem,
    ReferenceSet,
    ReferenceSource,
)
from apps.datasets.services.writers import BATCH_SIZE


def snapshot_content_hash(items: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the sorted (pair content hash, label) items of a snapshot.

    Two snapshots with the same pairs and labels hash the same whatever their order or ids.
    """
    digest = hashlib.sha256()
    for pair_hash, label in sorted(items):
        digest.update(f"{pair_hash}\t{label}\n".encode())
    return digest.hexdigest()


def _labels_of_dataset(dataset: Dataset) -> Labels:
    items: list[LabelledPair] = []
    unlabelled = 0
    rows = (
        Pair.objects.filter(dataset=dataset)
        .order_by("id")
        .values_list("id", "content_hash", "domain", "gold_label")
    )
    for pair_id, content_hash, domain, label in rows.iterator(chunk_size=5000):
        if label is None:
            unlabelled += 1
            continue
        items.append(LabelledPair(pair_id, content_hash, domain, label, ReferenceSource.IMPORTED))
    return Labels(
        kind="dataset",
        source_id=dataset.pk,
        description="imported labels",
        dataset=dataset,
        items=items,
        unlabelled=unlabelled,
    )


def _check_request(
    *, project: Project, name: str, dataset: Dataset | None, source: tuple[str, int] | None
) -> None:
    if not name:
        raise ValidationError({"name": ["A reference set needs a name."]})
    if (dataset is None) == (source is None):
        raise ValidationError({"dataset": ["Give either a dataset or an annotation queue."]})
    if dataset is not None and dataset.project_id != project.pk:
        raise ValidationError({"dataset": ["No such dataset in this project."]})


def _labels(*, project: Project, dataset: Dataset | None, source: tuple[str, int] | None) -> Labels:
    """The labels to freeze: a registered source's, else the dataset's imported ones."""
    if source is not None:
        kind, pk = source
        return labels_from_source(kind=kind, project=project, pk=pk)
    assert dataset is not None
    return _labels_of_dataset(dataset)


def _unchanged(latest: ReferenceSet | None, labels: Labels, content_hash: str) -> bool:
    """Whether the latest version holds exactly these labels from the same source."""
    return (
        latest is not None
        and latest.content_hash == content_hash
        and latest.dataset_id == labels.dataset.pk
        and (latest.source_kind, latest.source_id) == (labels.kind, labels.source_id)
    )


def _items_create(reference_set: ReferenceSet, items: list[LabelledPair]) -> None:
    for chunk in _chunks(items, BATCH_SIZE):
        ReferenceItem.objects.bulk_create(
            [
                ReferenceItem(
                    reference_set=reference_set,
                    pair_id=item.pair_id,
                    gold_label=item.label,
                    source=item.source,
                )
                for item in chunk
            ]
        )


def _chunks(items: list[LabelledPair], size: int) -> Iterator[list[LabelledPair]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _audit_create(*, actor: Any, reference_set: ReferenceSet, labels: Labels) -> None:
    items = labels.items
    audit_event_record(
        actor=actor,
        action="reference_set.create",
        obj=reference_set,
        after={
            "name": reference_set.name,
            "version": reference_set.version,
            "dataset": labels.dataset.pk,
            "source": {"kind": labels.kind, "id": labels.source_id},
            "items": len(items),
            "unlabelled": labels.unlabelled,
            "ties": sum(1 for item in items if item.label == GoldLabel.TIE),
            "domain_counts": reference_set.domain_counts,
            "content_hash": reference_set.content_hash,
        },
    )


@transaction.atomic
def reference_set_create(
    *,
    actor: Any,
    project: Project,
    name: str,
    dataset: Dataset | None = None,
    source: tuple[str, int] | None = None,
    description: str = "",
) -> ReferenceSet:
    """Freeze a snapshot of (pair, gold label) named ``name`` in ``project``.

    Labels come from ``dataset`` (the gold labels its import carried) or from a registered
    ``source`` such as ``("queue", 12)``, an annotation queue's consensus and adjudications
    (:mod:`apps.datasets.label_sources`). Gold ``tie`` items are kept; pairs with no label are
    left out and counted in ``unlabelled_count``. Snapshots never change: each change of the
    labels under the same name makes the next ``version``; when the labels are exactly those of
    the latest version from the same source, that version is returned and nothing is written.
    """
    name = name.strip()
    _check_request(project=project, name=name, dataset=dataset, source=source)
    # Serialise snapshot creation per project so two requests cannot take the same version.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    labels = _labels(project=project, dataset=dataset, source=source)
    items = labels.items
    if not items:
        raise ValidationError({labels.kind: ["No pair has a label to freeze."]})
    content_hash = snapshot_content_hash((item.content_hash, item.label) for item in items)
    latest = ReferenceSet.objects.filter(project=project, name=name).order_by("-version").first()
    if latest is not None and _unchanged(latest, labels, content_hash):
        return latest
    reference_set = ReferenceSet.objects.create(
        project=project,
        name=name,
        version=(latest.version + 1) if latest is not None else 1,
        dataset=labels.dataset,
        source_kind=labels.kind,
        source_id=labels.source_id,
        source_description=labels.description,
        description=description,
        item_count=len(items),
        domain_counts=dict(sorted(Counter(item.domain for item in items).items())),
        content_hash=content_hash,
        unlabelled_count=labels.unlabelled,
        created_by=actor_or_none(actor),
    )
    _items_create(reference_set, items)
    _audit_create(actor=actor, reference_set=reference_set, labels=labels)
    return reference_set
