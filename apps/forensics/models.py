"""Drift forensics: clause attributions of drift reports, and judge drift reports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    """Where a forensics job stands."""

    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Attribution(models.Model):
    """Which hunks of a rubric edit caused a drift report's flips (see ``analysis``).

    ``budget`` caps the judge calls the cache cannot answer; ``calls`` is what the job spent and
    ``cache_hits`` what it read from the judging cache. ``result`` holds the hunks with their
    shares, intervals and tests, the headline and any interactions; ``control_size`` and
    ``seed`` fix the control sample of unflipped pairs, so a rerun draws the same pairs.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="attributions"
    )
    report = models.ForeignKey(
        "drift.DriftReport", on_delete=models.CASCADE, related_name="attributions"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    budget = models.PositiveIntegerField()
    control_size = models.PositiveIntegerField()
    seed = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"attribution {self.pk} of drift report {self.report_id}"

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.PENDING, JobStatus.RUNNING)


class JudgeDriftKind(models.TextChoices):
    """A judge drift report holds the rubric fixed, or crosses two rubrics with two judges."""

    JUDGE = "judge", "Judge change, rubric fixed"
    FACTORIAL = "factorial", "Rubric x judge (2 x 2)"


class JudgeDriftTrigger(models.TextChoices):
    """What asked for a judge drift report."""

    MANUAL = "manual", "Requested"
    GUARD = "guard", "Guard's judge changed"
    DRIFT_REPORT = "drift_report", "A drift report's judge moved"


class Blame(models.TextChoices):
    """Which change moved the verdicts, as the 2 x 2 (or the judge-only report) reads it."""

    JUDGE = "judge", "The judge"
    RUBRIC = "rubric", "The rubric"
    BOTH = "both", "Both"
    NEITHER = "neither", "Neither"


class JudgeDriftReport(models.Model):
    """Judge drift: the same rubric judged by an old and a new judge config, with the drift
    statistics and flags of ``apps.drift.stats``; or, for ``factorial``, the 2 x 2 of old/new
    rubric x old/new judge, whose main effects say which of the two moved the verdicts.

    Runs: ``run_old`` (old version, old judge), ``run_new_judge`` (old version, new judge), and
    for the 2 x 2 ``run_new_rubric`` (new version, old judge) and ``run_both``. The judges'
    configs are copied into ``*_judge_state`` when the report is created, so the report says
    what was compared even after a config is edited. A guard's new judge is cleared by a ready
    report without flags, or by an admin's acceptance (``accepted_*``).
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="judge_drift_reports"
    )
    rubric = models.ForeignKey(
        "rubrics.Rubric", on_delete=models.CASCADE, related_name="judge_drift_reports"
    )
    kind = models.CharField(max_length=16, choices=JudgeDriftKind.choices)
    trigger = models.CharField(
        max_length=16, choices=JudgeDriftTrigger.choices, default=JudgeDriftTrigger.MANUAL
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    reference_set = models.ForeignKey(
        "datasets.ReferenceSet", on_delete=models.PROTECT, related_name="+"
    )
    old_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="+"
    )
    new_version = models.ForeignKey(
        "rubrics.RubricVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    old_judge = models.ForeignKey("judging.JudgeConfig", on_delete=models.PROTECT, related_name="+")
    new_judge = models.ForeignKey("judging.JudgeConfig", on_delete=models.PROTECT, related_name="+")
    old_judge_state = models.JSONField(default=dict)
    new_judge_state = models.JSONField(default=dict)
    # The drift report whose judge moved between its runs, for a split started for it
    # (``trigger=drift_report``): its page shows this report beside "Rubric or judge?".
    drift_report = models.ForeignKey(
        "drift.DriftReport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="judge_splits",
    )
    run_old = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run_new_judge = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run_new_rubric = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run_both = models.ForeignKey(
        "judging.JudgingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    thresholds = models.JSONField(default=dict)
    stats = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    blame = models.CharField(max_length=16, choices=Blame.choices, blank=True)
    headline = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    # An admin's acceptance of the new judge for the rubric's guard despite flags (or a failed
    # check), with the reason; audited as ``judge_drift.accept``.
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    acceptance_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"judge drift report {self.pk}"

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    def runs(self) -> list[Any]:
        """The report's runs that exist (two, or four for the 2 x 2)."""
        return [
            run
            for run in (self.run_old, self.run_new_judge, self.run_new_rubric, self.run_both)
            if run is not None
        ]
