"""The annotation card on the project dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.accounts.permissions import Capability
from apps.annotations import selectors
from apps.annotations.models import Annotation, AnnotationQueue
from apps.core.dashboard import DashboardSection, register_section


@register_section
def annotations_section(
    *, project: Any, user: Any, capabilities: set[str]
) -> DashboardSection | None:
    """For annotators: what waits for them. For admins also: queues, labels, disputes."""
    if Capability.ANNOTATE not in capabilities:
        return None
    figures: list[tuple[str, Any]] = [
        ("Your queues", AnnotationQueue.objects.filter(project=project, annotators=user).count()),
        ("Waiting for you", selectors.pending_for(project=project, user=user)),
    ]
    url = reverse("annotations:list", kwargs={"project": project.slug})
    # The queues page has a card per queue of the user with what is left in it, and for admins
    # a row per queue with its labels: every figure here sums a column of that page.
    links = {"Your queues": url, "Waiting for you": url}
    note = ""
    if Capability.QUEUE_MANAGE in capabilities:
        links |= {"Queues": url, "Labels": url}
        queues = list(AnnotationQueue.objects.filter(project=project))
        disputed = sum(selectors.consensus_summary(queue=queue)["disputed"] for queue in queues)
        figures += [
            ("Queues", len(queues)),
            ("Labels", Annotation.objects.filter(queue__project=project).count()),
        ]
        note = (
            f"{disputed} pair{'s' if disputed != 1 else ''} waiting for adjudication."
            if disputed
            else "No pair waits for adjudication."
        )
    return DashboardSection(
        title="Annotate",
        url=url,
        figures=figures,
        note=note,
        links=links,
    )
