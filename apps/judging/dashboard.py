"""The judging card of the project dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.accounts.permissions import Capability
from apps.core.dashboard import DashboardSection, register_section
from apps.judging.filters import RunPageFilter
from apps.judging.models import ACTIVE_RUN_STATUSES, JudgingRun


@register_section
def runs_section(*, project: Any, user: Any, capabilities: set[str]) -> DashboardSection | None:
    """Active runs and the latest finished one, for roles that may see runs."""
    if Capability.RUN_VIEW.value not in capabilities:
        return None
    runs = JudgingRun.objects.filter(project=project)
    active = runs.filter(status__in=ACTIVE_RUN_STATUSES).count()
    latest = runs.exclude(status__in=ACTIVE_RUN_STATUSES).first()
    figures: list[tuple[str, Any]] = [("Active runs", active), ("All runs", runs.count())]
    url = reverse("judging:list", kwargs={"project": project.slug})
    links = {"Active runs": f"{url}?status={RunPageFilter.ACTIVE}", "All runs": url}
    note = ""
    if latest is not None:
        accuracy = (latest.summary or {}).get("overall", {}).get("accuracy")
        figures.append(("Latest accuracy", f"{accuracy:.3f}" if accuracy is not None else "n/a"))
        links["Latest accuracy"] = reverse(
            "judging:detail", kwargs={"project": project.slug, "run": latest.pk}
        )
        note = f"Latest: run #{latest.pk}, {latest.get_status_display().lower()}."
    return DashboardSection(title="Judging runs", url=url, figures=figures, note=note, links=links)
