"""Template context for the navigation bar."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, capabilities_of

# Main navigation: label, URL name, the capability that shows it.
NAVIGATION = (
    ("Rubrics", "rubrics:list", Capability.RUBRIC_VIEW),
    ("Data", "datasets:list", Capability.DATASET_VIEW),
    ("Annotate", "annotations:list", Capability.ANNOTATE),
    ("Runs", "judging:list", Capability.RUN_VIEW),
    ("Alerts", "drift:inbox", Capability.ALERT_VIEW),
    ("Red teams", "redteam:list", Capability.RUN_VIEW),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The current project (from the URL) and the links its user's role allows."""
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("project") if match else None
    if not slug or not request.user.is_authenticated:
        return {}
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        return {}
    capabilities = capabilities_of(request.user, project)
    links = []
    for label, name, capability in NAVIGATION:
        if capability not in capabilities:
            continue
        try:
            url = reverse(name, kwargs={"project": project.slug})
        except NoReverseMatch:  # the page's app is not installed
            continue
        links.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return {"nav_project": project, "nav_capabilities": capabilities, "nav_links": links}
