"""The rubrics card on the project dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.accounts.permissions import Capability
from apps.core.dashboard import DashboardSection, register_section
from apps.rubrics.models import Rubric, RubricLabel, RubricVersion, VersionStatus


@register_section
def rubrics_section(*, project: Any, user: Any, capabilities: set[str]) -> DashboardSection | None:
    """Rubric, draft and production counts for roles that may see rubrics."""
    if Capability.RUBRIC_VIEW.value not in capabilities:
        return None
    drafts = RubricVersion.objects.filter(
        rubric__project=project, status=VersionStatus.DRAFT
    ).count()
    url = reverse("rubrics:list", kwargs={"project": project.slug})
    return DashboardSection(
        title="Rubrics",
        url=url,
        figures=[
            ("rubrics", Rubric.objects.filter(project=project).count()),
            ("drafts", drafts),
            (
                "in production",
                RubricLabel.objects.filter(rubric__project=project, name="production").count(),
            ),
        ],
        note="Drafts waiting to be published." if drafts else "",
        # The list has a row per rubric with its production version and its number of drafts.
        links={"rubrics": url, "drafts": url, "in production": url},
    )
