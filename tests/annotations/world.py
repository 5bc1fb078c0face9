"""The annotation queue of the route-table world, with every role that may annotate assigned."""

from __future__ import annotations

from typing import Any

from apps.annotations.models import AnnotationQueue
from apps.datasets.models import Dataset, Pair


def add_to_world(world: dict[str, Any]) -> None:
    project = world["project"]
    if "dataset" not in world:
        world["dataset"] = Dataset.objects.create(project=project, name="World pairs")
    if "pair" not in world:
        world["pair"] = Pair.objects.create(
            dataset=world["dataset"],
            prompt="Which is better?",
            response_a="This one.",
            response_b="That one.",
            domain="general",
            gold_label="A",
            content_hash=f"world-{world['dataset'].pk}",
        )
    queue = AnnotationQueue.objects.create(
        project=project, dataset=world["dataset"], name="World queue", overlap=1
    )
    users = world["users"]
    # Every caller whose role may annotate is assigned, so "allowed" really means allowed.
    queue.annotators.set(
        [users[name] for name in ("admin", "author", "annotator", "superuser") if name in users]
    )
    world["queue"] = queue
