"""The datasets card on the project dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.accounts.permissions import Capability
from apps.core.dashboard import DashboardSection, register_section
from apps.datasets.models import Dataset, Pair, ReferenceSet


@register_section
def datasets_section(*, project: Any, user: Any, capabilities: set[str]) -> DashboardSection | None:
    """Datasets, pairs and reference snapshots of the project (hidden from annotators)."""
    if Capability.DATASET_VIEW not in capabilities:
        return None
    latest = ReferenceSet.objects.filter(project=project).order_by("-created_at").first()
    url = reverse("datasets:list", kwargs={"project": project.slug})
    return DashboardSection(
        title="Data",
        url=url,
        figures=[
            ("Datasets", Dataset.objects.filter(project=project).count()),
            ("Pairs", Pair.objects.filter(dataset__project=project).count()),
            ("Reference sets", ReferenceSet.objects.filter(project=project).count()),
        ],
        note=(
            f"Latest snapshot: {latest.name} v{latest.version}, {latest.item_count} pairs"
            if latest
            else "No reference snapshot yet."
        ),
        # Pairs open the datasets list: a row per dataset with its pairs, one click from them.
        links={
            "Datasets": url,
            "Pairs": url,
            "Reference sets": reverse("datasets:reference_sets", kwargs={"project": project.slug}),
        },
    )
