"""The drift alerts card of the project dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.accounts.permissions import Capability
from apps.core.dashboard import DashboardSection, register_section
from apps.drift.models import AlertStatus, DriftAlert, DriftReport, ReportStatus, Severity


@register_section
def alerts_section(*, project: Any, user: Any, capabilities: set[str]) -> DashboardSection | None:
    """Open alerts (high severity first) and drift checks still running, for staff roles."""
    if Capability.ALERT_VIEW.value not in capabilities:
        return None
    # Only models here: this module is imported at start-up, the selectors pull in the judging
    # app's heavier modules.
    open_alerts = DriftAlert.objects.filter(project=project, status=AlertStatus.OPEN)
    high = open_alerts.filter(severity=Severity.HIGH).count()
    running = DriftReport.objects.filter(project=project, status=ReportStatus.PENDING).count()
    worst = (
        open_alerts.select_related("rubric", "version")
        .order_by("severity", "-created_at")  # "high" sorts before "medium"
        .first()
    )
    note = f"{worst.rubric.name} {worst.headline}" if worst else ""
    inbox = reverse("drift:inbox", kwargs={"project": project.slug})
    reports = reverse("drift:reports", kwargs={"project": project.slug})
    return DashboardSection(
        title="Drift alerts",
        url=inbox,
        figures=[
            ("Open alerts", open_alerts.count()),
            ("High severity", high),
            ("Checks running", running),
        ],
        note=note,
        links={
            "Open alerts": f"{inbox}?status={AlertStatus.OPEN}",
            "High severity": f"{inbox}?status={AlertStatus.OPEN}&severity={Severity.HIGH}",
            "Checks running": f"{reports}?status={ReportStatus.PENDING}",
        },
    )
