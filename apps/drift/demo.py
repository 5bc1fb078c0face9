"""Demo step: guard the demo rubric and build the drift report of its two demo runs.

The report is built right here (no worker needed), so ``make run`` opens with the alert the
demo is about: rubric v2 rewards complete, detailed answers and softens the refusal wording,
which costs accuracy on harmlessness while the overall accuracy holds (masked drift).
Idempotent: the guard is written only when it differs, and an existing report of the same two
runs is kept.
"""

from __future__ import annotations

from apps.core.demo import DemoContext
from apps.datasets.models import ReferenceSet
from apps.drift import selectors, services
from apps.drift.models import DriftReport, ReportStatus, ReportTrigger
from apps.judging.models import JudgeConfig, JudgingRun
from apps.rubrics.models import Rubric


def seed_demo(ctx: DemoContext) -> None:
    """Turn on the demo rubric's guard and build the v1 -> v2 report (and its alert)."""
    needed = ("rubric", "reference_set", "judge", "run_v1", "run_v2")
    admin = ctx.users.get("admin")
    if admin is None or any(ctx.objects.get(key) is None for key in needed):
        ctx.write("  no demo rubric, runs or admin: drift report skipped")
        return
    rubric: Rubric = ctx.objects["rubric"]
    reference_set: ReferenceSet = ctx.objects["reference_set"]
    judge: JudgeConfig = ctx.objects["judge"]
    run_v1: JudgingRun = ctx.objects["run_v1"]
    run_v2: JudgingRun = ctx.objects["run_v2"]
    guard = selectors.guard_for(rubric)
    guarded = (
        guard.enabled and guard.reference_set_id == reference_set.pk and guard.judge_id == judge.pk
    )
    if not guarded:
        guard = services.rubric_guard_update(
            actor=admin,
            rubric=rubric,
            enabled=True,
            reference_set=reference_set,
            judge=judge,
            min_effect=guard.min_effect,
            tolerance=guard.tolerance,
            alpha=guard.alpha,
        )
        anchor = f", anchor v{guard.anchor.number}" if guard.anchor is not None else ""
        ctx.write(f"  drift guard of {rubric.name}: on ({judge.name}, {reference_set}{anchor})")
    report = (
        DriftReport.objects.filter(baseline_run=run_v1, candidate_run=run_v2)
        .exclude(status=ReportStatus.FAILED)
        .order_by("-created_at")
        .first()
    )
    if report is None:
        report = services.drift_report_create(
            actor=admin,
            baseline_run=run_v1,
            candidate_run=run_v2,
            trigger=ReportTrigger.DEMO,
            dispatch=False,
        )
    if report.status == ReportStatus.PENDING:
        report = services.drift_report_build(report_id=report.pk)
        alert = selectors.report_alert(report)
        if alert is not None:
            ctx.write(f"  drift alert ({alert.severity}) on v2: {alert.headline}")
        else:
            ctx.write(f"  drift report {report.pk}: {report.status}, no flag")
    ctx.objects["drift_report"] = report
    alert = selectors.report_alert(report)
    if alert is not None:
        ctx.objects["drift_alert"] = alert
