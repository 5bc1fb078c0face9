"""Drift reports comparing two rubric versions, the alerts they raise, and webhook deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for runs"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DriftReport(models.Model):
    """Baseline vs candidate run of one judge on one reference snapshot, with all statistics.

    ``stats`` holds ``overall`` and ``by_domain`` as in API.md; ``thresholds`` the guard values
    used, so a report reads the same after the guard is edited.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="drift_reports"
    )
    rubric = models.ForeignKey("rubrics.Rubric", on_delete=models.CASCADE, related_name="drift_reports")
    baseline_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="+"
    )
    candidate_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="drift_reports"
    )
    baseline_run = models.ForeignKey("judging.JudgingRun", on_delete=models.PROTECT, related_name="+")
    candidate_run = models.ForeignKey("judging.JudgingRun", on_delete=models.PROTECT, related_name="+")
    repeat_run = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference_set = models.ForeignKey("datasets.ReferenceSet", on_delete=models.PROTECT, related_name="+")
    judge = models.ForeignKey("judging.JudgeConfig", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    thresholds = models.JSONField(default=dict)
    stats = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"drift report {self.pk}"


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    APPROVED = "approved", "Approved"
    BLOCKED = "blocked", "Blocked"


class DriftAlert(models.Model):
    """Raised by a flagged report; an admin approves (with a reason), blocks or acknowledges it."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="alerts")
    report = models.OneToOneField(DriftReport, on_delete=models.CASCADE, related_name="alert")
    rubric = models.ForeignKey("rubrics.Rubric", on_delete=models.CASCADE, related_name="alerts")
    version = models.ForeignKey("rubrics.RubricVersion", on_delete=models.CASCADE, related_name="alerts")
    severity = models.CharField(max_length=8, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    headline = models.CharField(max_length=500)
    reason = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.severity} alert on {self.version}"


class WebhookDelivery(models.Model):
    """One JSON message to a project's webhook (signed with HMAC), with its delivery attempts."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(DriftAlert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, default="pending")
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
