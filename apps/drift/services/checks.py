"""The check of a version: reusing or starting the runs a comparison needs, the automatic
check on publish and the guard's checks."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import ReferenceSet
from apps.drift import selectors
from apps.drift.models import (
    DriftReport,
    ReportStatus,
    ReportTrigger,
)
from apps.drift.services.guard_judge import guard_judge_for_check, guard_judge_waits
from apps.drift.services.reports import (
    DRIFT_RUN_PURPOSE,
    drift_report_build,
    drift_report_create,
    lock_rubric,
)
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig, JudgingRun
from apps.rubrics.models import Rubric, RubricVersion

log = logging.getLogger(__name__)

# --- the check of a version ---------------------------------------------------------------------


def drift_check_start(
    *,
    actor: Any,
    version: RubricVersion,
    baseline: RubricVersion | None = None,
    judge: JudgeConfig | None = None,
    reference_set: ReferenceSet | None = None,
    trigger: str = ReportTrigger.MANUAL,
    execute: bool = False,
) -> DriftReport | None:
    """Compare ``version`` with ``baseline`` (default: its predecessor) on a judge and snapshot
    (default: the rubric's guard): reuse or start both runs and create the report. The
    guard's judge is the one it has cleared (``guard_judge.guard_judge_for_check``): a requested
    judge judges only once cleared, and a judge edited in place and not cleared gives a failed
    report that says it waits for clearance.

    A comparison that was made already (same versions, judge config and snapshot, a report that
    did not fail) is not made again: its stored report, and so its decision, is returned (the
    page, the API and ``drift_check`` alike). Returns None when there is nothing to compare
    against (the first published version). With
    ``execute`` the missing runs are judged in this process and the report is built before
    returning (the command line); otherwise the runs go to the workers and the report is built
    by ``drift.await_report_runs``. A run that cannot start (the rubric cannot be rendered, the
    snapshot is empty...) gives a failed report that says why.
    """
    rubric = version.rubric
    guard = selectors.guard_for(rubric)
    waiting = ""
    if judge is None:
        # The guard's judge, or its cleared replacement (``guard_judge``); a judge edited in
        # place and not cleared leaves a failed report that says so.
        try:
            judge = guard_judge_for_check(guard=guard)
        except ValidationError as exc:
            judge, waiting = guard.judge, "; ".join(exc.messages)
    reference_set = reference_set or guard.reference_set
    errors: dict[str, list[str]] = {}
    if judge is None:
        errors["judge"] = ["Name a judge, or set the rubric's drift guard."]
    if reference_set is None:
        errors["reference_set"] = ["Name a reference set, or set the rubric's drift guard."]
    if not version.is_published:
        errors["candidate_version"] = ["Only published versions can be checked."]
    if errors:
        raise ValidationError(errors)
    assert judge is not None and reference_set is not None  # narrowed by the checks above
    if judge.project_id != rubric.project_id or reference_set.project_id != rubric.project_id:
        raise ValidationError({"judge": ["The judge and reference set must be in this project."]})
    baseline = baseline or selectors.drift_predecessor(version)
    if baseline is None:
        return None
    if baseline.rubric.project_id != rubric.project_id:
        raise ValidationError({"baseline_version": ["The baseline belongs to another project."]})
    if waiting:
        return _failed_check(
            actor=actor,
            version=version,
            baseline=baseline,
            judge=judge,
            reference_set=reference_set,
            trigger=trigger,
            reason=waiting,
            waited_for_judge=True,
        )

    started: list[JudgingRun] = []

    def run_for(target: RubricVersion) -> JudgingRun:
        run, new = judging_services.run_reuse_or_start(
            actor=actor,
            rubric_version=target,
            judge=judge,
            reference_set=reference_set,
            purpose=DRIFT_RUN_PURPOSE,
            execute=execute,
        )
        if new:
            started.append(run)
        return run

    try:
        with transaction.atomic():
            lock_rubric(rubric.pk)
            stored = selectors.comparison_report(
                candidate=version, baseline=baseline, judge=judge, reference_set_id=reference_set.pk
            )
            if stored is not None and stored.status != ReportStatus.FAILED:
                return stored
            baseline_run = run_for(baseline)
            candidate_run = run_for(version)
            report = drift_report_create(
                actor=actor,
                baseline_run=baseline_run,
                candidate_run=candidate_run,
                trigger=trigger,
                dispatch=not execute,
            )
    except ValidationError as exc:
        return _failed_check(
            actor=actor,
            version=version,
            baseline=baseline,
            judge=judge,
            reference_set=reference_set,
            trigger=trigger,
            reason="; ".join(exc.messages),
        )
    if execute:
        for run in started:
            judging_services.run_execute(run=run)
        report = drift_report_build(report_id=report.pk)
    return report


def _failed_check(
    *,
    actor: Any,
    version: RubricVersion,
    baseline: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet,
    trigger: str,
    reason: str,
    waited_for_judge: bool = False,
) -> DriftReport:
    """A failed report for a check whose runs could not even start, so the failure is visible.
    ``waited_for_judge`` marks a check that waited for its guard's judge to be cleared."""
    with transaction.atomic():
        report = DriftReport.objects.create(
            project_id=version.rubric.project_id,
            rubric=version.rubric,
            baseline_version=baseline,
            candidate_version=version,
            reference_set=reference_set,
            judge=judge,
            thresholds=asdict(selectors.guard_thresholds(version.rubric)),
            trigger=trigger,
            status=ReportStatus.FAILED,
            error=f"The runs could not start: {reason}"[:4000],
            waited_for_judge=waited_for_judge,
            created_by=actor_or_none(actor),
            finished_at=timezone.now(),
        )
        audit_event_record(
            actor=actor, action="drift_report.fail", obj=report, after={"reason": report.error}
        )
    return report


def drift_check_on_publish(*, version_id: int) -> DriftReport | None:
    """Start the drift checks of a guarded rubric's newly published version.

    Connected to ``apps.rubrics.hooks.version_published`` (sent after the publish commits). The
    version is compared with the production version, with the guard's anchor and, for its
    author, with its parent where that differs (with its predecessor while the rubric has neither
    production nor an anchor). Returns the first report (the one against production when there
    is a production version). Does nothing for an unguarded rubric or the first published
    version. Never raises: the version is published whatever happens here, and a check that
    could not start leaves a failed report (or a log line) rather than an error page.
    """
    version = RubricVersion.objects.select_related("rubric", "parent").filter(pk=version_id).first()
    if version is None or not version.is_published:
        return None
    guard = selectors.guard_for(version.rubric)
    if not guard.is_complete:
        return None
    production = selectors.production_version(version.rubric)
    reports: list[DriftReport] = []
    for baseline in selectors.guard_baselines(version, guard=guard, production=production):
        try:
            report = drift_check_start(
                actor=None,
                version=version,
                baseline=baseline.version,
                trigger=ReportTrigger.PUBLISH,
            )
        except Exception:
            log.exception(
                "the drift check of rubric version %s against %s could not start",
                version_id,
                baseline.words,
            )
            continue
        if report is not None:
            reports.append(report)
    return reports[0] if reports else None


def guard_checks_start(
    *, actor: Any, version: RubricVersion, trigger: str = ReportTrigger.MANUAL
) -> list[DriftReport]:
    """Start (or find) every comparison the guard makes for ``version``: against production,
    the anchor and its parent (see ``selectors.guard_baselines``); the gating ones first.

    Without a complete guard, the version is compared with its predecessor on nothing, which
    raises the ``ValidationError`` that names the missing judge or reference set.
    """
    guard = selectors.guard_for(version.rubric)
    if not guard.is_complete:
        report = drift_check_start(actor=actor, version=version, trigger=trigger)
        return [report] if report is not None else []
    production = selectors.production_version(version.rubric)
    reports = []
    for baseline in selectors.guard_baselines(version, guard=guard, production=production):
        report = drift_check_start(
            actor=actor, version=version, baseline=baseline.version, trigger=trigger
        )
        if report is not None:
            reports.append(report)
    return reports


def guard_held_checks_restart(*, rubric_id: int) -> list[DriftReport]:
    """Start again the guard's checks that failed while its judge, edited in place, waited for
    clearance: the newest failed check of each comparison (candidate and baseline version), not
    every retry of it. Does nothing while the judge still waits (a restart would only fail
    again). A comparison decided since by another report is not made again
    (``drift_check_start`` returns that report). Returns the reports the restarts gave."""
    guard = selectors.guard_for(Rubric.objects.get(pk=rubric_id))
    if not guard.is_complete or guard_judge_waits(guard):
        return []
    held = (
        DriftReport.objects.filter(
            rubric_id=rubric_id, status=ReportStatus.FAILED, waited_for_judge=True
        )
        .select_related("candidate_version", "baseline_version")
        .order_by("-created_at", "-id")
    )
    newest: dict[tuple[int, int], DriftReport] = {}
    for report in held:
        newest.setdefault((report.candidate_version_id, report.baseline_version_id), report)
    restarted = []
    for report in newest.values():
        try:
            found = drift_check_start(
                actor=None,
                version=report.candidate_version,
                baseline=report.baseline_version,
                trigger=ReportTrigger.JUDGE_CLEARED,
            )
        except ValidationError:
            log.exception("the held drift check %s could not start again", report.pk)
            continue
        if found is not None:
            restarted.append(found)
    return restarted


def on_version_published(sender: Any, version_id: int, **kwargs: Any) -> None:
    """Receiver of ``apps.rubrics.hooks.version_published`` (connected in ``DriftConfig``)."""
    drift_check_on_publish(version_id=version_id)
