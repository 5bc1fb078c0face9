"""Objects for annotation tests: datasets of pairs, rubric versions with criteria, queues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.accounts.models import Project
from apps.annotations.models import AnnotationQueue
from apps.annotations.services import annotation_queue_create
from apps.datasets.models import Dataset, Pair
from apps.rubrics.models import Criterion, Rubric, RubricVersion


def make_dataset(
    project: Project,
    *,
    n: int = 6,
    domains: Sequence[str] = ("general",),
    name: str | None = None,
    gold: str | None = "A",
    metadata: dict[str, Any] | None = None,
) -> Dataset:
    """A dataset of ``n`` pairs, domains taken in turn, each pair with the same gold label."""
    count = Dataset.objects.filter(project=project).count()
    dataset = Dataset.objects.create(project=project, name=name or f"Pairs {count + 1}")
    Pair.objects.bulk_create(
        Pair(
            dataset=dataset,
            external_id=f"p{i}",
            prompt=f"Question {i}?",
            response_a=f"Answer A to {i}.",
            response_b=f"Answer B to {i}.",
            domain=domains[i % len(domains)],
            gold_label=gold,
            metadata=dict(metadata or {}),
            content_hash=f"{dataset.pk}-{i}",
        )
        for i in range(n)
    )
    return dataset


def make_version(project: Project, *, keys: Sequence[str] = ("helpful", "safe")) -> RubricVersion:
    """A draft rubric version with one criterion per key."""
    count = Rubric.objects.filter(project=project).count()
    rubric = Rubric.objects.create(project=project, name=f"Rubric {count}", slug=f"rubric-{count}")
    version = RubricVersion.objects.create(
        rubric=rubric, number=1, instructions="Prefer the better answer."
    )
    for position, key in enumerate(keys):
        Criterion.objects.create(
            version=version,
            position=position,
            key=key,
            title=key.title(),
            description=f"How {key} the response is.",
        )
    return version


def make_queue(
    project: Project,
    *,
    dataset: Dataset,
    annotators: Sequence[Any],
    overlap: int = 1,
    actor: Any = None,
    **kwargs: Any,
) -> AnnotationQueue:
    """A queue made through the service, as the pages and the API make them."""
    return annotation_queue_create(
        actor=actor,
        project=project,
        dataset=dataset,
        annotators=annotators,
        overlap=overlap,
        **kwargs,
    )
