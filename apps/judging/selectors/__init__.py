"""Reads of the judging app: run progress, per-pair verdicts, accuracy, failures, cost estimates.

Everything here reads whole runs with a fixed number of ``values()`` queries (never one query
per pair), so a run of tens of thousands of pairs is read in well under a second. By concern:
``runs`` (lists, progress, why a run waits, failures, a run to reuse), ``outcomes`` (per-pair
verdicts, accuracy, the pairs table), ``estimate`` (a run's cost before it starts),
``evidence`` (one judgment with its evidence) and ``judgments`` (a run's judgments one per row,
with their totals).
"""

from apps.judging.selectors.estimate import ESTIMATE_SAMPLE, CostEstimate, run_estimate
from apps.judging.selectors.evidence import JudgmentEvidence, judgment_evidence
from apps.judging.selectors.judgments import JudgmentTotals, judgment_totals, run_judgments
from apps.judging.selectors.outcomes import (
    ACCURACY_COST_FACTOR,
    ACCURACY_REFRESH_S,
    CORRECTNESS,
    run_accuracy,
    run_accuracy_compute,
    run_domains,
    run_pair_outcomes,
    run_pair_rows,
)
from apps.judging.selectors.runs import (
    RunFailures,
    RunProgress,
    judges_for_project,
    reusable_run,
    run_failures,
    run_progress,
    run_waiting,
    runs_for_project,
)

__all__ = [
    "ACCURACY_COST_FACTOR",
    "ACCURACY_REFRESH_S",
    "CORRECTNESS",
    "ESTIMATE_SAMPLE",
    "CostEstimate",
    "JudgmentEvidence",
    "JudgmentTotals",
    "RunFailures",
    "RunProgress",
    "judges_for_project",
    "judgment_evidence",
    "judgment_totals",
    "reusable_run",
    "run_accuracy",
    "run_accuracy_compute",
    "run_domains",
    "run_estimate",
    "run_failures",
    "run_judgments",
    "run_pair_outcomes",
    "run_pair_rows",
    "run_progress",
    "run_waiting",
    "runs_for_project",
]
