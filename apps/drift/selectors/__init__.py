"""Reads of the drift app, one module per concern; every public name is importable from here.

- ``guard``: a rubric's drift guard, its thresholds, and what a candidate is compared with
- ``status``: the stored decision of a comparison and where a version or report stands
- ``lists``: the alert inbox and the list of reports
- ``history``: a rubric's drift history against its anchor
- ``flips``: a report's flipped pairs, their direction, filters and evidence
- ``inputs``: what a report is computed from, and the runs a pending report waits on
- ``guard_power``: what the guard's reference set can catch at the judge's noise
- ``judge``: rubric or judge? whether a report's runs were judged by the same judge
"""

from apps.drift.selectors.flips import (
    CORRECTION,
    DIRECTIONS,
    MOVE_FILTERS,
    OTHER,
    REGRESSION,
    filter_flips,
    flip_counts,
    flip_details,
    flip_direction,
    verdict_score,
)
from apps.drift.selectors.guard import (
    ANCHOR,
    GATING_ROLES,
    PARENT,
    PREDECESSOR,
    PRODUCTION,
    Baseline,
    drift_predecessor,
    guard_baselines,
    guard_for,
    guard_is_complete,
    guard_judge_watch,
    guard_reference_set_id,
    guard_thresholds,
    production_version,
)
from apps.drift.selectors.guard_power import (
    POWER_NOISE_REPORTS,
    GuardPowerLine,
    guard_power_summary,
)
from apps.drift.selectors.history import HistoryRow, rubric_drift_history
from apps.drift.selectors.inputs import paired_records, repeat_run_for, report_waiting_runs
from apps.drift.selectors.judge import report_judge_moved, report_judge_question
from apps.drift.selectors.lists import (
    alerts_for_project,
    open_alerts,
    order_inbox,
    reports_for_project,
)
from apps.drift.selectors.status import (
    ACKNOWLEDGED,
    ALERT_OPEN,
    APPROVED,
    BLOCKED,
    DRIFT_STATUSES,
    FAILED,
    MAX_ANCESTRY,
    NO_BASELINE,
    NOT_CHECKED,
    NOT_GUARDED,
    PASSED,
    RUNNING,
    STATUS_BADGES,
    blocked_ancestry,
    comparison_report,
    gate_report,
    latest_report,
    refusing_alerts,
    report_alert,
    report_drift_status,
    version_drift_status,
)

__all__ = [
    "ACKNOWLEDGED",
    "ALERT_OPEN",
    "ANCHOR",
    "APPROVED",
    "BLOCKED",
    "CORRECTION",
    "DIRECTIONS",
    "DRIFT_STATUSES",
    "FAILED",
    "GATING_ROLES",
    "MAX_ANCESTRY",
    "MOVE_FILTERS",
    "NOT_CHECKED",
    "NOT_GUARDED",
    "NO_BASELINE",
    "OTHER",
    "PARENT",
    "PASSED",
    "POWER_NOISE_REPORTS",
    "PREDECESSOR",
    "PRODUCTION",
    "REGRESSION",
    "RUNNING",
    "STATUS_BADGES",
    "Baseline",
    "GuardPowerLine",
    "HistoryRow",
    "alerts_for_project",
    "blocked_ancestry",
    "comparison_report",
    "drift_predecessor",
    "filter_flips",
    "flip_counts",
    "flip_details",
    "flip_direction",
    "gate_report",
    "guard_baselines",
    "guard_for",
    "guard_is_complete",
    "guard_judge_watch",
    "guard_power_summary",
    "guard_reference_set_id",
    "guard_thresholds",
    "latest_report",
    "open_alerts",
    "order_inbox",
    "paired_records",
    "production_version",
    "refusing_alerts",
    "repeat_run_for",
    "report_alert",
    "report_drift_status",
    "report_judge_moved",
    "report_judge_question",
    "report_waiting_runs",
    "reports_for_project",
    "rubric_drift_history",
    "verdict_score",
    "version_drift_status",
]
