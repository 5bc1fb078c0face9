"""Where a version or a report stands with the drift gate, in the words the pages show: the stored
decision of a comparison, the alerts that refuse a promotion, and a version's drift status."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.drift.models import AlertStatus, DriftAlert, DriftReport, ReportStatus
from apps.drift.selectors.guard import guard_baselines, guard_for, production_version
from apps.judging.models import JudgeConfig
from apps.rubrics.models import Rubric, RubricVersion

# The words of ``version_drift_status``: the rubric list, the history page and the API show them.
NOT_GUARDED = "not guarded"
RUNNING = "drift check running"
PASSED = "passed"
ALERT_OPEN = "alert open"
APPROVED = "approved"
BLOCKED = "blocked"
ACKNOWLEDGED = "acknowledged"
FAILED = "failed"
# Two more states the gate has to tell apart: a guarded version with nothing to compare against
# (the first published version), and one that was published before the guard was switched on.
NO_BASELINE = "no baseline"
NOT_CHECKED = "not checked"

DRIFT_STATUSES = (
    NOT_GUARDED,
    RUNNING,
    PASSED,
    ALERT_OPEN,
    APPROVED,
    BLOCKED,
    ACKNOWLEDGED,
    FAILED,
    NO_BASELINE,
    NOT_CHECKED,
)
# The CSS badge class of each status (studio.css colours open/blocked/failed red, and so on).
STATUS_BADGES = {
    NOT_GUARDED: "",
    RUNNING: "running",
    PASSED: "passed",
    ALERT_OPEN: "open",
    APPROVED: "approved",
    BLOCKED: "blocked",
    ACKNOWLEDGED: "acknowledged",
    FAILED: "failed",
    NO_BASELINE: "",
    NOT_CHECKED: "medium",
}

_ALERT_WORDS = {
    AlertStatus.OPEN: ALERT_OPEN,
    AlertStatus.APPROVED: APPROVED,
    AlertStatus.BLOCKED: BLOCKED,
    AlertStatus.ACKNOWLEDGED: ACKNOWLEDGED,
}


def comparison_report(
    *, candidate: RubricVersion, baseline: RubricVersion, judge: JudgeConfig, reference_set_id: int
) -> DriftReport | None:
    """The stored decision of one comparison: (candidate, baseline, judge config, snapshot).

    A comparison has one report, and so one decision: running it again returns this one. A judge
    config edited after the report was made is a different judge, so a new comparison; a failed
    report decides nothing and is returned only when there is no other.
    """
    reports = DriftReport.objects.filter(
        candidate_version=candidate,
        baseline_version=baseline,
        judge_id=judge.pk,
        reference_set_id=reference_set_id,
    ).select_related("alert")
    if judge.updated_at is not None:
        reports = reports.filter(created_at__gte=judge.updated_at)
    decided = reports.exclude(status=ReportStatus.FAILED).order_by("-created_at", "-id").first()
    return decided or reports.order_by("-created_at", "-id").first()


def gate_report(version: RubricVersion, rubric: Rubric | None = None) -> DriftReport | None:
    """The report that stands for ``version`` on its guard's judge and snapshot: its comparison
    against production (else the anchor, else its predecessor) when the version is not itself
    production. None without a complete guard or a comparison."""
    rubric = rubric or version.rubric
    guard = guard_for(rubric)
    if not guard.is_complete or guard.judge is None or guard.reference_set_id is None:
        return None
    production = production_version(rubric)
    for baseline in guard_baselines(version, guard=guard, production=production):
        report = comparison_report(
            candidate=version,
            baseline=baseline.version,
            judge=guard.judge,
            reference_set_id=guard.reference_set_id,
        )
        if report is not None:
            return report
    return None


def refusing_alerts(version: RubricVersion) -> QuerySet[DriftAlert]:
    """The version's open or blocked alerts, oldest first: each refuses its promotion, guard or
    not, until an admin decides it (approve, or acknowledge an open one)."""
    return (
        DriftAlert.objects.filter(
            version=version, status__in=(AlertStatus.OPEN, AlertStatus.BLOCKED)
        )
        .select_related("report__baseline_version")
        .order_by("created_at", "id")
    )


# Imported lineages can be long; walking further up gains nothing a reader would follow.
MAX_ANCESTRY = 200


def blocked_ancestry(version: RubricVersion) -> str:
    """ "forked from v2, blocked by alert 1: <reason>" when an ancestor of ``version`` has a
    blocked alert (the nearest such ancestor), else an empty string."""
    seen: set[int] = set()
    ancestor = version.parent
    while ancestor is not None and ancestor.pk not in seen and len(seen) < MAX_ANCESTRY:
        seen.add(ancestor.pk)
        alert = (
            DriftAlert.objects.filter(version=ancestor, status=AlertStatus.BLOCKED)
            .order_by("-resolved_at", "-id")
            .first()
        )
        if alert is not None:
            why = alert.reason or alert.headline
            return f"forked from v{ancestor.number}, blocked by alert {alert.pk}: {why}"
        ancestor = ancestor.parent
    return ""


def latest_report(version: RubricVersion) -> DriftReport | None:
    """The newest report whose candidate is ``version``, whatever its baseline or judge."""
    return (
        DriftReport.objects.filter(candidate_version=version)
        .select_related("alert")
        .order_by("-created_at", "-id")
        .first()
    )


def report_alert(report: DriftReport) -> DriftAlert | None:
    """The report's alert, or None when it raised none."""
    try:
        return report.alert
    except DriftAlert.DoesNotExist:
        return None


def report_drift_status(report: DriftReport) -> str:
    """The status word of one report (see ``version_drift_status``)."""
    if report.status == ReportStatus.PENDING:
        return RUNNING
    if report.status == ReportStatus.FAILED:
        return FAILED
    alert = report_alert(report)
    if alert is None:
        return PASSED
    return _ALERT_WORDS.get(AlertStatus(alert.status), ALERT_OPEN)


# The worst status of a version's gating comparisons is its status.
_WORST_FIRST = (BLOCKED, ALERT_OPEN, FAILED, ACKNOWLEDGED, NOT_CHECKED, RUNNING, APPROVED, PASSED)


def version_drift_status(version: RubricVersion) -> str:
    """Where a version stands with the drift gate, in the words the pages show.

    One of "not guarded", "drift check running", "passed", "alert open", "approved", "blocked",
    "acknowledged", "failed", and for a guarded rubric also "no baseline" (nothing to compare
    with) or "not checked" (a gating comparison was never made; promoting starts it). An open
    or blocked alert on the version wins, guard or not. Under a guard, the worst state of its
    comparisons against production and the anchor is the version's state.
    """
    guard = guard_for(version.rubric)
    if not version.is_published:
        return NOT_CHECKED if guard.is_complete else NOT_GUARDED
    refusing = list(refusing_alerts(version))
    if refusing:
        return BLOCKED if any(a.status == AlertStatus.BLOCKED for a in refusing) else ALERT_OPEN
    if guard.is_complete and guard.judge is not None and guard.reference_set_id is not None:
        production = production_version(version.rubric)
        baselines = guard_baselines(version, guard=guard, production=production, gating_only=True)
        if not baselines:
            # Production or the anchor itself, or nothing to gate against yet: its comparison
            # with its parent (or predecessor) stands for it.
            if not guard_baselines(version, guard=guard, production=production):
                return NO_BASELINE
            report = gate_report(version)
            return NOT_CHECKED if report is None else report_drift_status(report)
        statuses = []
        for baseline in baselines:
            report = comparison_report(
                candidate=version,
                baseline=baseline.version,
                judge=guard.judge,
                reference_set_id=guard.reference_set_id,
            )
            statuses.append(NOT_CHECKED if report is None else report_drift_status(report))
        return min(statuses, key=_WORST_FIRST.index)
    report = latest_report(version)
    return NOT_GUARDED if report is None else report_drift_status(report)
