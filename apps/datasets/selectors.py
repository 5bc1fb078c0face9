"""Reads of the datasets app: datasets with their domain mix, pairs, snapshots and their items."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet

from apps.accounts.models import Project
from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet

# Roles a transcript turn may have; anything else in a file's metadata is shown as plain text.
TURN_ROLES = {"human": "Human", "user": "User", "assistant": "Assistant", "system": "System"}


def datasets_with_counts(*, project: Project) -> list[Dataset]:
    """The project's datasets, each with ``pair_count`` and ``domain_counts`` ({domain: n}).

    One grouped query for every dataset's domain mix, rather than one per dataset.
    """
    datasets = list(Dataset.objects.filter(project=project).order_by("name"))
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Pair.objects.filter(dataset__project=project)
        .values_list("dataset_id", "domain")
        .annotate(n=Count("id"))
        .order_by("dataset_id", "domain")
    )
    for dataset_id, domain, n in rows:
        counts[dataset_id][domain] = n
    for dataset in datasets:
        dataset.domain_counts = counts.get(dataset.pk, {})  # type: ignore[attr-defined]
        dataset.pair_count = sum(dataset.domain_counts.values())  # type: ignore[attr-defined]
    return datasets


def dataset_domain_counts(*, dataset: Dataset) -> dict[str, int]:
    """{domain: number of pairs} of one dataset, by domain name."""
    rows = (
        Pair.objects.filter(dataset=dataset)
        .values_list("domain")
        .annotate(n=Count("id"))
        .order_by("domain")
    )
    return {domain: n for domain, n in rows}


def dataset_label_counts(*, dataset: Dataset) -> dict[str, int]:
    """{A, B, tie, none: number of pairs} of one dataset's imported gold labels."""
    rows = Pair.objects.filter(dataset=dataset).values_list("gold_label").annotate(n=Count("id"))
    counts = {"A": 0, "B": 0, "tie": 0, "none": 0}
    for label, n in rows.order_by():
        counts[label or "none"] += n
    return counts


def pairs_of_project(*, project: Project) -> QuerySet[Pair]:
    """Every pair of the project's datasets."""
    return Pair.objects.filter(dataset__project=project).select_related("dataset")


def reference_sets_of_project(*, project: Project) -> QuerySet[ReferenceSet]:
    """The project's snapshots, newest first, with their source dataset and queue."""
    return (
        ReferenceSet.objects.filter(project=project)
        .select_related("dataset", "created_by")
        .order_by("name", "-version")
    )


def reference_set_items(*, reference_set: ReferenceSet) -> QuerySet[ReferenceItem]:
    """The snapshot's items with their pairs, in pair order."""
    return reference_set.items.select_related("pair").order_by("pair_id")


def reference_set_label_counts(*, reference_set: ReferenceSet) -> dict[str, int]:
    """{A, B, tie: number of items} of one snapshot."""
    counts = {"A": 0, "B": 0, "tie": 0}
    rows = reference_set.items.values_list("gold_label").annotate(n=Count("id")).order_by()
    for label, n in rows:
        counts[label] = n
    return counts


def pair_turns(*, pair: Pair) -> list[dict[str, str]]:
    """The prompt's conversation as ``[{role, label, text}]`` from ``metadata["turns"]``.

    Imported files put what they like in metadata, so anything that is not a list of
    ``{role, text}`` strings is ignored (the page then shows the prompt as one text).
    """
    raw: Any = pair.metadata.get("turns") if isinstance(pair.metadata, dict) else None
    if not isinstance(raw, list) or not raw:
        return []
    turns: list[dict[str, str]] = []
    for turn in raw:
        if not isinstance(turn, dict):
            return []
        role, text = turn.get("role"), turn.get("text")
        if not isinstance(role, str) or not isinstance(text, str):
            return []
        key = role.lower()
        turns.append(
            {
                "role": key if key in TURN_ROLES else "text",
                "label": TURN_ROLES.get(key, role[:40] or "Text"),
                "text": text,
            }
        )
    return turns


def pair_metadata_rest(*, pair: Pair) -> dict[str, Any]:
    """The pair's metadata without the turns (those are shown as a transcript)."""
    if not isinstance(pair.metadata, dict):
        return {}
    return {key: value for key, value in pair.metadata.items() if key != "turns"}
