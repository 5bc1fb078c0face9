"""Drift reports comparing two rubric versions, the alerts they raise, and webhook deliveries."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class DriftGuard(models.Model):
    """A rubric's drift guard: which judge and reference snapshot check its versions, the flag
    thresholds, and the trusted anchor.

    A judge that replaces the guard's judge is only requested: the guard goes on checking with
    the judge it has until the new one is cleared (docs/forensics.md, "The guard watching its
    judge"), so no version is judged by a judge nobody compared with the old one.

    While ``enabled``, every published version is compared with the version that holds the
    ``production`` label, with the ``anchor`` and (for its author) with its parent, and may take
    the ``production`` label only once its comparisons against production *as it is then* and
    against the anchor passed or were approved (``apps.drift.gate``). The anchor is a version an
    admin trusts; measuring every candidate against it catches drift that arrives through many
    small edits, each of which passes against its parent. It defaults to the version that held
    production when the guard was switched on, or the first version promoted under the guard,
    and moves only by an admin's audited decision with a reason.
    """

    rubric = models.OneToOneField(
        "rubrics.Rubric", on_delete=models.CASCADE, related_name="drift_guard"
    )
    enabled = models.BooleanField(default=False)
    reference_set = models.ForeignKey(
        "datasets.ReferenceSet", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The judge the guard's checks use. A replacement is held in ``requested_judge`` until it
    # is cleared (``apps.drift.hooks``); ``judge_state`` is what ``judge`` was when cleared, so
    # an edit of the config in place reads as a new judge.
    judge = models.ForeignKey(
        "judging.JudgeConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    judge_state = models.JSONField(default=dict, blank=True)
    requested_judge = models.ForeignKey(
        "judging.JudgeConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    judge_requested_at = models.DateTimeField(null=True, blank=True)
    # Thresholds as proportions (0.02 = 2 points); see docs/judging-and-drift.md "Flags".
    min_effect = models.FloatField(default=0.02)
    tolerance = models.FloatField(default=0.01)
    alpha = models.FloatField(default=0.05)
    # RESTRICT, not PROTECT: the anchor cannot be deleted on its own, but the whole rubric (its
    # guard with it) can.
    anchor = models.ForeignKey(
        "rubrics.RubricVersion",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="+",
    )
    anchor_reason = models.TextField(blank=True)
    anchor_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    anchor_set_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"drift guard of rubric {self.rubric_id}"

    @property
    def project(self) -> Any:
        return self.rubric.project

    @property
    def is_complete(self) -> bool:
        """On, with a judge and a reference set: the guard checks and gates versions."""
        return bool(self.enabled and self.judge_id is not None and self.reference_set_id)


class ReportStatus(models.TextChoices):
    """Where a drift report stands: waiting for its runs, computed, or failed."""

    PENDING = "pending", "Waiting for runs"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ReportTrigger(models.TextChoices):
    """What asked for a report: a publish of a guarded rubric, a person, the CLI, a promotion
    that found a comparison missing, or the demo."""

    PUBLISH = "publish", "Publish of a guarded rubric"
    MANUAL = "manual", "Requested"
    CLI = "cli", "drift_check command"
    PROMOTION = "promotion", "Promotion after production moved"
    JUDGE_CLEARED = "judge_cleared", "Guard's judge cleared after a wait"
    DEMO = "demo", "Demo"


class DriftReport(models.Model):
    """Baseline vs candidate run of one judge on one reference snapshot, with all statistics.

    ``stats`` holds ``overall`` and ``by_domain`` as in docs/api.md, plus ``flipped`` (one entry per
    pair whose verdict changed), ``severity`` and ``bootstrap``; ``thresholds`` the guard values
    used, so a report reads the same after the guard is edited. The runs are empty only on a
    report that failed before its runs could be started (``error`` says why).
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="drift_reports"
    )
    rubric = models.ForeignKey(
        "rubrics.Rubric", on_delete=models.CASCADE, related_name="drift_reports"
    )
    baseline_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="+"
    )
    candidate_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="drift_reports"
    )
    baseline_run = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    candidate_run = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    repeat_run = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference_set = models.ForeignKey(
        "datasets.ReferenceSet", on_delete=models.PROTECT, related_name="+"
    )
    judge = models.ForeignKey("judging.JudgeConfig", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    trigger = models.CharField(
        max_length=16, choices=ReportTrigger.choices, default=ReportTrigger.MANUAL
    )
    thresholds = models.JSONField(default=dict)
    stats = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # A guard's check that failed because the guard's judge, edited in place, waited for
    # clearance: started again once the judge is cleared (``guard_held_checks_restart``).
    waited_for_judge = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["candidate_version", "created_at"])]

    def __str__(self) -> str:
        return f"drift report {self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.status == ReportStatus.PENDING

    @property
    def overall(self) -> dict[str, Any]:
        return dict(self.stats.get("overall") or {})

    @property
    def by_domain(self) -> dict[str, Any]:
        return dict(self.stats.get("by_domain") or {})


class Severity(models.TextChoices):
    """How urgent an alert is (docs/judging-and-drift.md "Flags")."""

    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"


class AlertStatus(models.TextChoices):
    """An alert's state: open until an admin approves, blocks or acknowledges it."""

    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    APPROVED = "approved", "Approved"
    BLOCKED = "blocked", "Blocked"


class DriftAlert(models.Model):
    """Raised by a flagged report; an admin approves (with a reason), blocks or acknowledges it.

    Only *approved* lets the version take the ``production`` label (see ``apps.drift.gate``):
    acknowledged means "seen", not "accepted".
    """

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="alerts")
    report = models.OneToOneField(DriftReport, on_delete=models.CASCADE, related_name="alert")
    rubric = models.ForeignKey("rubrics.Rubric", on_delete=models.CASCADE, related_name="alerts")
    version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.CASCADE, related_name="alerts"
    )
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
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return f"{self.severity} alert on {self.version}"


class DeliveryStatus(models.TextChoices):
    """A webhook message's state: being tried, delivered, or given up."""

    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One JSON message to a project's webhook (signed with HMAC), with its delivery attempts.

    ``payload`` is the exact message; each attempt sends the same bytes with the same signature,
    so a receiver can de-duplicate on ``delivery`` in the body.
    """

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(DriftAlert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    url = models.URLField(max_length=500, blank=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} to {self.url or 'webhook'} ({self.status})"
