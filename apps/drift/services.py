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
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import partial
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.permissions import Capability, check_capability
from apps.core.services import audit_event_record
from apps.datasets.models import ReferenceSet
from apps.drift import explain, notifications, selectors
from apps.drift.flags import DriftThresholds
from apps.drift.models import (
    AlertStatus,
    DriftAlert,
    DriftGuard,
    DriftReport,
    ReportStatus,
    ReportTrigger,
)
from apps.drift.stats import PairedOutcomes, compute_drift_report, flip_moves
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from apps.rubrics.models import Rubric, RubricVersion
from rubricstudio.celery import app as celery_app

log = logging.getLogger(__name__)

N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0
DRIFT_RUN_PURPOSE = "drift"
UNUSABLE_RUN_STATUSES = (RunStatus.FAILED, RunStatus.CANCELLED)
ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)

# States of a pending report, as ``drift_report_advance`` returns them.
WAITING = "waiting"
BUILT = "built"

DECISIONS: dict[str, AlertStatus] = {
    "approve": AlertStatus.APPROVED,
    "block": AlertStatus.BLOCKED,
    "acknowledge": AlertStatus.ACKNOWLEDGED,
}


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# --- creating a report ------------------------------------------------------------------------


def _run_errors(baseline_run: JudgingRun, candidate_run: JudgingRun) -> dict[str, list[str]]:
    """Why two runs cannot be compared (empty when they can)."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if baseline_run.pk == candidate_run.pk:
        add("candidate_run", "Baseline and candidate are the same run; compare two runs.")
    if baseline_run.project_id != candidate_run.project_id:
        add("candidate_run", "The runs belong to different projects.")
    for field, run in (("baseline_run", baseline_run), ("candidate_run", candidate_run)):
        if run.reference_set_id is None:
            add(
                field,
                f"Run {run.pk} judged a dataset; drift is measured on a reference set snapshot.",
            )
        if run.status in UNUSABLE_RUN_STATUSES:
            add(field, f"Run {run.pk} is {run.status}; start a new run to compare.")
    if baseline_run.judge_id != candidate_run.judge_id:
        add(
            "candidate_run",
            f"The runs use different judge configs ({baseline_run.judge.name!r} and "
            f"{candidate_run.judge.name!r}); a drift report compares one judge with itself.",
        )
    if (
        baseline_run.reference_set_id is not None
        and candidate_run.reference_set_id is not None
        and baseline_run.reference_set_id != candidate_run.reference_set_id
    ):
        add(
            "candidate_run",
            f"The runs judged different reference snapshots ({baseline_run.reference_set} and "
            f"{candidate_run.reference_set}); both must judge the same snapshot.",
        )
    return errors


def drift_report_create(
    *,
    actor: Any,
    baseline_run: JudgingRun,
    candidate_run: JudgingRun,
    thresholds: DriftThresholds | None = None,
    trigger: str = ReportTrigger.MANUAL,
    dispatch: bool = True,
) -> DriftReport:
    """A pending report comparing two runs; it is built once both runs have ended.

    Refuses (``ValidationError``, a 400 in the API) runs with different judge configs or
    different reference snapshots, runs on a dataset, failed or cancelled runs, and a run
    compared with itself. ``thresholds`` default to the candidate rubric's drift guard.

    One comparison, one decision: when the same comparison (candidate version, baseline version,
    judge config, reference snapshot) already has a report that did not fail, that report is
    returned, whatever runs were sent, so no second alert opens for a decided comparison. The
    rubric's row is locked while looking, so two requests cannot both create one.
    ``dispatch=False`` leaves the building to the caller.
    """
    errors = _run_errors(baseline_run, candidate_run)
    if errors:
        raise ValidationError(errors)
    candidate_version = candidate_run.rubric_version
    rubric = candidate_version.rubric
    values = asdict(thresholds or selectors.guard_thresholds(rubric))
    with transaction.atomic():
        _lock_rubric(rubric.pk)
        existing = selectors.comparison_report(
            candidate=candidate_version,
            baseline=baseline_run.rubric_version,
            judge=candidate_run.judge,
            reference_set_id=cast(int, candidate_run.reference_set_id),
        )
        if existing is not None and existing.status != ReportStatus.FAILED:
            return existing
        report = DriftReport.objects.create(
            project_id=candidate_run.project_id,
            rubric=rubric,
            baseline_version=baseline_run.rubric_version,
            candidate_version=candidate_version,
            baseline_run=baseline_run,
            candidate_run=candidate_run,
            # Both runs judged this snapshot: _run_errors refused anything else.
            reference_set_id=cast(int, candidate_run.reference_set_id),
            judge_id=candidate_run.judge_id,
            thresholds=values,
            trigger=trigger,
            created_by=_user(actor),
        )
        audit_event_record(
            actor=actor,
            action="drift_report.create",
            obj=report,
            after={
                "baseline_run": baseline_run.pk,
                "candidate_run": candidate_run.pk,
                "baseline_version": baseline_run.rubric_version_id,
                "candidate_version": candidate_version.pk,
                "thresholds": values,
                "trigger": trigger,
            },
        )
        if dispatch:
            transaction.on_commit(partial(_dispatch_await, report.pk))
    return report


def _lock_rubric(rubric_id: int) -> Rubric:
    """Lock the rubric's row: promotions, alert decisions, anchor moves and new comparisons of
    one rubric take this lock first, so they happen one after the other."""
    return Rubric.objects.select_for_update().get(pk=rubric_id)


# Sent by its registered name (``apps.drift.tasks``): the tasks call these services, so this
# module never imports them.
AWAIT_REPORT_TASK = "drift.await_report_runs"


def _dispatch_await(report_id: int) -> None:
    celery_app.tasks[AWAIT_REPORT_TASK].delay(report_id)


# --- building a report --------------------------------------------------------------------------


def drift_report_advance(*, report_id: int) -> str:
    """Build the report if both its runs have ended; ``"waiting"`` while one is still going.

    Returns ``"built"`` (or the report's status when it was no longer pending).
    """
    report = DriftReport.objects.select_related("baseline_run", "candidate_run").get(pk=report_id)
    if report.status != ReportStatus.PENDING:
        return str(report.status)
    runs = [run for run in (report.baseline_run, report.candidate_run) if run is not None]
    if any(not run.is_finished for run in runs):
        return WAITING
    drift_report_build(report_id=report_id)
    return BUILT


def drift_report_build(*, report_id: int) -> DriftReport:
    """Compute a pending report from its two finished runs, store it, and raise its alert.

    The statistics come from ``apps.drift.stats.compute_drift_report`` over the pairs judged by
    both runs (plus a repeat run of the baseline for the noise floor, when one exists). A flagged
    report opens a ``DriftAlert`` with the severity of ``flags.drift_severity``; the report and
    the alert are audited, and the alert is notified after the commit. A report whose runs have
    not both ended is returned unchanged; one whose run failed or was cancelled is marked failed.
    Safe to call twice: only the first call that finds the report pending writes it.
    """
    report = DriftReport.objects.select_related(
        "baseline_run", "candidate_run", "rubric", "baseline_version", "candidate_version"
    ).get(pk=report_id)
    if report.status != ReportStatus.PENDING:
        return report
    baseline_run, candidate_run = report.baseline_run, report.candidate_run
    if baseline_run is None or candidate_run is None:
        return drift_report_fail(report=report, reason="The report has no runs to compare.")
    if not (baseline_run.is_finished and candidate_run.is_finished):
        return report
    for run in (baseline_run, candidate_run):
        if run.status in UNUSABLE_RUN_STATUSES:
            return drift_report_fail(
                report=report, reason=f"Run {run.pk} ended {run.status}: {run.error or 'no reason'}"
            )
    repeat_run = selectors.repeat_run_for(report)
    records, unmatched = selectors.paired_records(
        baseline_run=baseline_run, candidate_run=candidate_run, repeat_run=repeat_run
    )
    if not records:
        return drift_report_fail(report=report, reason="No pair was judged by both runs.")
    thresholds = DriftThresholds(**report.thresholds)
    try:
        result = compute_drift_report(
            PairedOutcomes.from_records(records),
            thresholds,
            n_bootstrap=N_BOOTSTRAP,
            seed=BOOTSTRAP_SEED,
        )
    except ValueError as exc:
        return drift_report_fail(report=report, reason=f"The statistics failed: {exc}")
    for flip in result["flipped"]:
        record = records[flip["index"]]
        flip["moves"] = flip_moves(
            record["baseline"],
            record["candidate"],
            length_a=record["length_a"],
            length_b=record["length_b"],
            refuses_a=record["refuses_a"],
            refuses_b=record["refuses_b"],
        )
        flip["length_a"], flip["length_b"] = record["length_a"], record["length_b"]
        flip["refuses_a"], flip["refuses_b"] = record["refuses_a"], record["refuses_b"]
    flags = result.pop("flags")
    stats = dict(result)
    stats["pairs_compared"] = len(records)
    stats["pairs_unmatched"] = unmatched
    stats["repeat_run"] = repeat_run.pk if repeat_run is not None else None

    with transaction.atomic():
        locked = DriftReport.objects.select_for_update().get(pk=report.pk)
        if locked.status != ReportStatus.PENDING:
            return locked
        locked.stats = stats
        locked.flags = flags
        locked.repeat_run = repeat_run
        locked.status = ReportStatus.READY
        locked.finished_at = timezone.now()
        locked.error = ""
        locked.save(
            update_fields=["stats", "flags", "repeat_run", "status", "finished_at", "error"]
        )
        audit_event_record(
            actor=None,
            action="drift_report.ready",
            obj=locked,
            after={
                "flags": [flag["kind"] for flag in flags],
                "severity": stats.get("severity"),
                "overall_delta": (stats.get("overall") or {}).get("delta"),
                "pairs": len(records),
            },
        )
        severity = stats.get("severity")
        if flags and severity:
            headline = explain.headline(flags)
            lineage = selectors.blocked_ancestry(locked.candidate_version)
            if lineage:
                # A fork of a blocked version says so where the admin decides on it.
                headline = f"{headline} ({lineage})"
            alert = DriftAlert.objects.create(
                project_id=locked.project_id,
                report=locked,
                rubric_id=locked.rubric_id,
                version_id=locked.candidate_version_id,
                severity=severity,
                headline=headline[:500],
            )
            audit_event_record(
                actor=None,
                action="drift_alert.open",
                obj=alert,
                after={"severity": severity, "headline": alert.headline, "report": locked.pk},
            )
            transaction.on_commit(
                partial(_notify, alert_id=alert.pk, event=notifications.ALERT_OPENED)
            )
    return locked


def drift_report_fail(*, report: DriftReport, reason: str) -> DriftReport:
    """Mark a pending report failed with ``reason`` (audited). The gate refuses such a report."""
    with transaction.atomic():
        locked = DriftReport.objects.select_for_update().get(pk=report.pk)
        if locked.status != ReportStatus.PENDING:
            return locked
        locked.status = ReportStatus.FAILED
        locked.error = reason[:4000]
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "error", "finished_at"])
        audit_event_record(
            actor=None, action="drift_report.fail", obj=locked, after={"reason": locked.error}
        )
    return locked


def drift_reports_sweep() -> list[int]:
    """Build (or fail) every pending report whose runs have both ended; returns their ids."""
    handled = []
    for report_id in DriftReport.objects.filter(status=ReportStatus.PENDING).values_list(
        "pk", flat=True
    ):
        if drift_report_advance(report_id=report_id) != WAITING:
            handled.append(report_id)
    return handled


def _notify(*, alert_id: int, event: str) -> None:
    # A notification problem must never undo or hide the decision that caused it.
    try:
        notifications.alert_notify(alert_id=alert_id, event=event)
    except Exception:
        log.exception("notifying alert %s (%s) failed", alert_id, event)


# --- the check of a version ---------------------------------------------------------------------


def _reusable_run(
    *,
    version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet,
    active_ok: bool,
) -> JudgingRun | None:
    """A run of ``version`` on this judge and snapshot that a report can use instead of a new one.

    A succeeded run made after the judge config was last edited; failing that (and when
    ``active_ok``), one still queued or running. Runs with failures are not reused: their invalid
    verdicts would count as wrong answers.
    """
    runs = JudgingRun.objects.filter(
        rubric_version=version, judge=judge, reference_set=reference_set
    ).order_by("-created_at", "-pk")
    if judge.updated_at is not None:
        runs = runs.filter(created_at__gte=judge.updated_at)
    finished = runs.filter(status=RunStatus.SUCCEEDED).first()
    if finished is not None or not active_ok:
        return finished
    return runs.filter(status__in=ACTIVE_RUN_STATUSES).first()


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
    (default: the rubric's guard): reuse or start both runs and create the report.

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
    judge = judge or guard.judge
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

    started: list[JudgingRun] = []

    def run_for(target: RubricVersion) -> JudgingRun:
        reused = _reusable_run(
            version=target, judge=judge, reference_set=reference_set, active_ok=not execute
        )
        if reused is not None:
            return reused
        run = judging_services.run_start(
            actor=actor,
            rubric_version=target,
            judge=judge,
            reference_set=reference_set,
            purpose=DRIFT_RUN_PURPOSE,
            dispatch=not execute,
        )
        started.append(run)
        return run

    try:
        with transaction.atomic():
            _lock_rubric(rubric.pk)
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
) -> DriftReport:
    """A failed report for a check whose runs could not even start, so the failure is visible."""
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
            created_by=_user(actor),
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


def on_version_published(sender: Any, version_id: int, **kwargs: Any) -> None:
    """Receiver of ``apps.rubrics.hooks.version_published`` (connected in ``DriftConfig``)."""
    drift_check_on_publish(version_id=version_id)


# --- alerts -------------------------------------------------------------------------------------


def alert_resolve(*, actor: Any, alert: DriftAlert, decision: str, reason: str) -> DriftAlert:
    """An admin's decision on an alert: ``approve`` (needs a written reason), ``block`` or
    ``acknowledge``. Audited and notified. Only *approve* lets the version reach production.

    Raises ``PermissionDenied`` for anyone but a project admin and ``ValidationError`` for an
    unknown decision or an approval without a reason. A later decision replaces an earlier one
    (block first, approve once fixed), and each is in the audit log.
    """
    check_capability(actor, alert.project, Capability.ALERT_RESOLVE)
    if decision not in DECISIONS:
        raise ValidationError({"decision": [f"Choose one of {', '.join(DECISIONS)}."]})
    reason = (reason or "").strip()
    if decision == "approve" and not reason:
        raise ValidationError(
            {"reason": ["Approving a drift alert needs a written reason: say why it is safe."]}
        )
    with transaction.atomic():
        # The rubric first, as a promotion does: a decision and a promotion of one rubric
        # never interleave, so a promotion sees the alert either before or after it.
        _lock_rubric(alert.rubric_id)
        locked = DriftAlert.objects.select_for_update().get(pk=alert.pk)
        before = {"status": locked.status, "reason": locked.reason}
        locked.status = DECISIONS[decision]
        locked.reason = reason
        locked.resolved_by = _user(actor)
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "reason", "resolved_by", "resolved_at"])
        audit_event_record(
            actor=actor,
            action=f"drift_alert.{decision}",
            obj=locked,
            before=before,
            after={
                "status": locked.status,
                "reason": reason,
                "version": locked.version_id,
                "report": locked.report_id,
            },
        )
        transaction.on_commit(
            partial(_notify, alert_id=locked.pk, event=notifications.ALERT_RESOLVED)
        )
    return locked


# --- the drift guard ----------------------------------------------------------------------------


def rubric_guard_update(
    *,
    actor: Any,
    rubric: Rubric,
    enabled: bool,
    reference_set: ReferenceSet | None,
    judge: JudgeConfig | None,
    min_effect: float,
    tolerance: float,
    alpha: float,
) -> DriftGuard:
    """Set a rubric's drift guard (admins only; audited).

    Thresholds are proportions (0.02 = 2 accuracy points). A guard that is on needs a judge and
    a reference set of the rubric's project. Reports keep the thresholds they were built with.
    A guard switched on without an anchor takes the production version as its anchor (audited
    as an anchor move); without a production version, the first version promoted under the
    guard becomes the anchor.
    """
    check_capability(actor, rubric.project, Capability.GUARD_EDIT)
    errors: dict[str, list[str]] = {}
    if enabled and reference_set is None:
        errors["reference_set"] = ["A guard that is on needs a reference set."]
    if enabled and judge is None:
        errors["judge"] = ["A guard that is on needs a judge."]
    if reference_set is not None and reference_set.project_id != rubric.project_id:
        errors["reference_set"] = ["That reference set belongs to another project."]
    if judge is not None and judge.project_id != rubric.project_id:
        errors["judge"] = ["That judge belongs to another project."]
    try:
        DriftThresholds(min_effect=min_effect, tolerance=tolerance, alpha=alpha)
    except ValueError as exc:
        errors["thresholds"] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _lock_rubric(rubric.pk)
        guard, _ = DriftGuard.objects.select_for_update().get_or_create(rubric=rubric)
        before = guard_state(guard)
        guard.enabled = enabled
        guard.reference_set = reference_set
        guard.judge = judge
        guard.min_effect = min_effect
        guard.tolerance = tolerance
        guard.alpha = alpha
        guard.save()
        audit_event_record(
            actor=actor,
            action="rubric.guard_update",
            obj=rubric,
            before=before,
            after=guard_state(guard),
        )
        production = selectors.production_version(rubric)
        if guard.enabled and guard.anchor_id is None and production is not None:
            _anchor_write(
                actor=actor,
                guard=guard,
                version=production,
                reason=f"v{production.number} held production when the guard was switched on.",
            )
    return guard


def guard_state(guard: DriftGuard) -> dict[str, Any]:
    """The guard's settings as JSON (for the audit log and the API)."""
    return {
        "enabled": guard.enabled,
        "reference_set": guard.reference_set_id,
        "judge": guard.judge_id,
        "min_effect": guard.min_effect,
        "tolerance": guard.tolerance,
        "alpha": guard.alpha,
        "anchor": guard.anchor_id,
        "anchor_number": guard.anchor.number if guard.anchor is not None else None,
        "anchor_reason": guard.anchor_reason,
        "anchor_set_at": guard.anchor_set_at.isoformat() if guard.anchor_set_at else None,
    }


def _anchor_write(*, actor: Any, guard: DriftGuard, version: RubricVersion, reason: str) -> None:
    """Point the guard's anchor at ``version`` and audit it (the caller holds the rubric lock)."""
    before = {
        "anchor": guard.anchor_id,
        "number": guard.anchor.number if guard.anchor is not None else None,
        "reason": guard.anchor_reason,
    }
    guard.anchor = version
    guard.anchor_reason = reason
    guard.anchor_set_by = _user(actor)
    guard.anchor_set_at = timezone.now()
    guard.save(update_fields=["anchor", "anchor_reason", "anchor_set_by", "anchor_set_at"])
    audit_event_record(
        actor=actor,
        action="drift_guard.anchor_move",
        obj=guard.rubric,
        before=before,
        after={"anchor": version.pk, "number": version.number, "reason": reason},
    )


def guard_anchor_move(
    *, actor: Any, rubric: Rubric, version: RubricVersion, reason: str
) -> DriftGuard:
    """An admin pins the guard's trusted anchor on ``version``, saying why (audited).

    Every guarded candidate is then judged against this version as well as production, so the
    drift of many small edits is measured as a whole from here. Raises ``PermissionDenied`` for
    anyone but a project admin and ``ValidationError`` (naming the field) for a missing reason,
    a draft, or a version of another rubric.
    """
    check_capability(actor, rubric.project, Capability.GUARD_EDIT)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if version.rubric_id != rubric.pk:
        errors["version"] = ["That version belongs to another rubric."]
    elif not version.is_published:
        errors["version"] = [f"v{version.number} is a draft; only a published version can anchor."]
    if not reason:
        errors["reason"] = ["Moving the anchor needs a written reason: say why it is trusted."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _lock_rubric(rubric.pk)
        guard, _ = DriftGuard.objects.select_for_update().get_or_create(rubric=rubric)
        _anchor_write(actor=actor, guard=guard, version=version, reason=reason)
    return guard


def on_label_moved(
    sender: Any,
    rubric: Rubric,
    version: RubricVersion,
    label: str,
    previous: RubricVersion | None,
    actor: Any,
    **kwargs: Any,
) -> None:
    """Receiver of ``apps.rubrics.hooks.label_moved``: the first version promoted to production
    under a guard that has no anchor becomes the anchor (in the promotion's transaction)."""
    if label != selectors.PRODUCTION:
        return
    guard = DriftGuard.objects.select_related("rubric").filter(rubric=rubric).first()
    if guard is None or not guard.enabled or guard.anchor_id is not None:
        return
    _anchor_write(
        actor=actor,
        guard=guard,
        version=version,
        reason=f"v{version.number} is the first version promoted under the guard.",
    )
