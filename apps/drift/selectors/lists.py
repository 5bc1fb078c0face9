"""The project's lists of alerts (the inbox) and reports."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from apps.accounts.models import Project
from apps.drift.models import AlertStatus, DriftAlert, DriftReport, Severity


def alerts_for_project(*, project: Project) -> QuerySet[DriftAlert]:
    """The project's alerts for the inbox: open first, then high severity, then newest."""
    return order_inbox(DriftAlert.objects.filter(project=project))


def order_inbox(alerts: QuerySet[DriftAlert]) -> QuerySet[DriftAlert]:
    """Open alerts first (then blocked, acknowledged, approved), high severity first, newest."""
    status_rank = Case(
        When(status=AlertStatus.OPEN, then=Value(0)),
        When(status=AlertStatus.BLOCKED, then=Value(1)),
        When(status=AlertStatus.ACKNOWLEDGED, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    severity_rank = Case(
        When(severity=Severity.HIGH, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        alerts.select_related("rubric", "version", "report", "resolved_by")
        .annotate(status_rank=status_rank, severity_rank=severity_rank)
        .order_by("status_rank", "severity_rank", "-created_at", "-id")
    )


def open_alerts(*, project: Project) -> QuerySet[DriftAlert]:
    """Alerts nobody has resolved yet."""
    return DriftAlert.objects.filter(project=project, status=AlertStatus.OPEN)


def reports_for_project(*, project: Project) -> QuerySet[DriftReport]:
    """The project's drift reports, newest first."""
    return DriftReport.objects.filter(project=project).select_related(
        "rubric", "baseline_version", "candidate_version", "judge", "reference_set", "alert"
    )
