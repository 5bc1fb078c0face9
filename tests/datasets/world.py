"""Datasets objects of the route-table world: a dataset of pairs and a reference snapshot."""

from __future__ import annotations

import io
import json
from typing import Any

from apps.datasets import services
from apps.datasets.models import Dataset


def add_to_world(world: dict[str, Any]) -> None:
    project = world["project"]
    dataset = Dataset.objects.create(project=project, name=f"World pairs of {project.slug}")
    rows = [
        {
            "id": f"world-{i}",
            "prompt": f"World question {i} of {project.slug}?",
            "response_a": f"A careful answer number {i}.",
            "response_b": f"A careless answer number {i}.",
            "label": "AB"[i % 2],
            "domain": ("helpfulness", "harmlessness")[i // 2 % 2],
        }
        for i in range(4)
    ]
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    services.pairs_import(actor=None, dataset=dataset, file=io.BytesIO(content), format="jsonl")
    world["dataset"] = dataset
    world["format"] = "jsonl"
    world["pair"] = dataset.pairs.order_by("id").first()
    world["reference_set"] = services.reference_set_create(
        actor=None, project=project, name=f"World reference of {project.slug}", dataset=dataset
    )
