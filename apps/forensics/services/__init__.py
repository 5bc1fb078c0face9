"""Writes of drift forensics, split by concern:

* ``attribution``: clause attribution jobs (which hunk of an edit caused the flips);
* ``judge_drift``: judge drift reports (one rubric, two judges; or the 2 x 2 of rubric x judge);
* ``factorial``: the reading of a judge drift report (comparisons, blame, effects, headline);
* ``guard_judge``: the guard's check of a new judge, and an admin's acceptance of a flagged one;
* ``judge_split``: the 2 x 2 started for a drift report whose judge moved between its runs.

Callers import the package: every public name is re-exported here.
"""

from apps.forensics.services.attribution import (
    attribution_auto_start,
    attribution_execute,
    attribution_start,
    control_sample,
    default_budget,
    default_control_size,
)
from apps.forensics.services.factorial import (
    COMPARISON_RUNS,
    FACTORIAL_COMPARISONS,
    analysis_effects,
    blame_of,
    judge_drift_headline,
)
from apps.forensics.services.guard_judge import (
    guard_held_checks_resume,
    guard_judge_accept,
    guard_judge_change_check,
    guard_judge_change_check_by_ids,
    guard_judge_change_dispatch,
    guard_judge_check_now,
    guard_judge_watched_edit,
    guard_version,
)
from apps.forensics.services.judge_drift import (
    BUILT,
    JUDGE_DRIFT_RUN_PURPOSE,
    WAITING,
    judge_drift_advance,
    judge_drift_build,
    judge_drift_start,
    judge_state,
)
from apps.forensics.services.judge_split import (
    drift_report_judge_split,
    drift_report_judge_split_safely,
)

__all__ = [
    "BUILT",
    "COMPARISON_RUNS",
    "FACTORIAL_COMPARISONS",
    "JUDGE_DRIFT_RUN_PURPOSE",
    "WAITING",
    "analysis_effects",
    "attribution_auto_start",
    "attribution_execute",
    "attribution_start",
    "blame_of",
    "control_sample",
    "default_budget",
    "default_control_size",
    "drift_report_judge_split",
    "drift_report_judge_split_safely",
    "guard_held_checks_resume",
    "guard_judge_accept",
    "guard_judge_change_check",
    "guard_judge_change_check_by_ids",
    "guard_judge_change_dispatch",
    "guard_judge_check_now",
    "guard_judge_watched_edit",
    "guard_version",
    "judge_drift_advance",
    "judge_drift_build",
    "judge_drift_headline",
    "judge_drift_start",
    "judge_state",
]
