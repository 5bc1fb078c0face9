"""Writes of the drift app: drift reports, the automatic check on publish, alert decisions and
the rubric's drift guard.

How a guarded publish flows (docs/judging-and-drift.md, "Drift between two rubric versions"):

1. ``rubric_version_publish`` (rubrics app) calls :func:`drift_check_on_publish` after its commit.
2. :func:`drift_check_start` finds the predecessor, reuses a finished run of it on the guard's
   judge and reference set (or starts one), starts the candidate's run, and creates a pending
   report, all in one transaction; the runs' chunks and the ``drift.await_report_runs`` task
   are dispatched once it commits.
3. ``drift.await_report_runs`` looks at the runs and re-schedules itself until both have ended,
   then :func:`drift_report_build` computes the statistics, stores them, and opens an alert when
   a flag is raised; the alert is audited and notified (webhook, e-mail).

The package is split by concern: ``reports`` (creating, building, failing a report),
``checks`` (the check of a version and the automatic checks), ``alerts`` (decisions on
alerts), ``guard`` (the guard's settings and anchor) and ``guard_judge`` (the guard's judge
held until a replacement is cleared). Callers import the package: every
public name is re-exported here.
"""

from apps.drift.services.alerts import DECISIONS, alert_resolve
from apps.drift.services.checks import (
    drift_check_on_publish,
    drift_check_start,
    guard_checks_start,
    guard_held_checks_restart,
    on_version_published,
)
from apps.drift.services.guard import (
    guard_anchor_move,
    guard_state,
    on_label_moved,
    rubric_guard_update,
)
from apps.drift.services.guard_judge import (
    guard_judge_for_check,
    guard_judge_set,
)
from apps.drift.services.reports import (
    BOOTSTRAP_SEED,
    BUILT,
    DRIFT_RUN_PURPOSE,
    N_BOOTSTRAP,
    UNUSABLE_RUN_STATUSES,
    WAITING,
    RunsNotComparable,
    drift_report_advance,
    drift_report_build,
    drift_report_create,
    drift_report_fail,
    drift_reports_sweep,
    runs_compare,
)

__all__ = [
    "BOOTSTRAP_SEED",
    "BUILT",
    "DECISIONS",
    "DRIFT_RUN_PURPOSE",
    "N_BOOTSTRAP",
    "UNUSABLE_RUN_STATUSES",
    "WAITING",
    "RunsNotComparable",
    "alert_resolve",
    "drift_check_on_publish",
    "drift_check_start",
    "drift_report_advance",
    "drift_report_build",
    "drift_report_create",
    "drift_report_fail",
    "drift_reports_sweep",
    "guard_anchor_move",
    "guard_checks_start",
    "guard_held_checks_restart",
    "guard_judge_for_check",
    "guard_judge_set",
    "guard_state",
    "on_label_moved",
    "on_version_published",
    "rubric_guard_update",
    "runs_compare",
]
