"""Demo step: the demo dataset (imported through the real import path) and its reference set."""

from __future__ import annotations

import io

from apps.core.demo import DemoContext
from apps.datasets import services
from apps.datasets.demo_pairs import demo_jsonl, demo_pairs
from apps.datasets.models import Dataset, ReferenceSet

DATASET_NAME = "Demo pairs"
REFERENCE_NAME = "Demo reference"


def seed_demo(ctx: DemoContext) -> None:
    """Import the demo pairs (JSON Lines, in memory) and freeze "Demo reference" from them.

    Idempotent: an existing dataset that already holds every demo pair is not imported again,
    and an unchanged reference snapshot is reused rather than versioned.
    """
    actor = ctx.users.get("author") or ctx.users.get("admin")
    dataset = Dataset.objects.filter(project=ctx.project, name=DATASET_NAME).first()
    if dataset is None:
        dataset = services.dataset_create(
            actor=actor,
            project=ctx.project,
            name=DATASET_NAME,
            description=(
                "Pairs written for the demo: harmlessness (a short safe refusal against a long "
                "answer that goes along with a harmful request), helpfulness and code."
            ),
            source="demo",
        )
    if dataset.pairs.count() < len(demo_pairs()):
        result = services.pairs_import(
            actor=actor,
            dataset=dataset,
            file=io.BytesIO(demo_jsonl()),
            format="jsonl",
            source_name="demo-pairs.jsonl",
        )
        ctx.write(f"  dataset {dataset.name}: {result.created} pairs imported")
    else:
        ctx.write(f"  dataset {dataset.name}: {dataset.pairs.count()} pairs (already there)")
    reference_set = services.reference_set_create(
        actor=actor,
        project=ctx.project,
        name=REFERENCE_NAME,
        dataset=dataset,
        description="Gold labels of the demo pairs, frozen for judging and drift checks.",
    )
    latest = ReferenceSet.objects.filter(project=ctx.project, name=REFERENCE_NAME).count()
    ctx.write(
        f"  reference set {reference_set.name} v{reference_set.version}: "
        f"{reference_set.item_count} pairs ({latest} snapshot(s))"
    )
    ctx.objects["dataset"] = dataset
    ctx.objects["reference_set"] = reference_set
