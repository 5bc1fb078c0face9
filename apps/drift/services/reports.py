"""Drift reports: creating one from two runs, building it once both runs have ended, failing
and sweeping pending ones, and notifying the alert a report raises."""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import partial
from typing import Any, cast

from celery import signature
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.services import actor_or_none, audit_event_record
from apps.drift import explain, notifications, selectors
from apps.drift.flags import DriftThresholds
from apps.drift.models import (
    DriftAlert,
    DriftReport,
    ReportStatus,
    ReportTrigger,
)
from apps.drift.stats import PairedOutcomes, compute_drift_report, flip_moves
from apps.judging.models import JudgingRun, RunStatus
from apps.rubrics.models import Rubric

log = logging.getLogger(__name__)


N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0
DRIFT_RUN_PURPOSE = "drift"
UNUSABLE_RUN_STATUSES = (RunStatus.FAILED, RunStatus.CANCELLED)

# States of a pending report, as ``drift_report_advance`` returns them.
WAITING = "waiting"
BUILT = "built"


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
        lock_rubric(rubric.pk)
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
            created_by=actor_or_none(actor),
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


def lock_rubric(rubric_id: int) -> Rubric:
    """Lock the rubric's row: promotions, alert decisions, anchor moves and new comparisons of
    one rubric take this lock first, so they happen one after the other."""
    return Rubric.objects.select_for_update().get(pk=rubric_id)


def _dispatch_await(report_id: int) -> None:
    # By the task's name: ``tasks`` imports this module, so importing it back would close a circle.
    signature("drift.await_report_runs", args=(report_id,)).delay()


class RunsNotComparable(ValueError):
    """Two runs cannot be compared: one ended failed or cancelled, or they share no judged
    pair. The message says which, for the report that fails."""


def runs_compare(
    *,
    baseline_run: JudgingRun,
    candidate_run: JudgingRun,
    thresholds: DriftThresholds,
    repeat_run: JudgingRun | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The drift statistics and flags of ``candidate_run`` against ``baseline_run``.

    One computation for every comparison of two runs (a drift report, a judge drift report):
    ``compute_drift_report`` over the pairs both runs judged (with the repeat run's noise floor
    when given), each flip with what moved in it. Raises ``RunsNotComparable`` when a run ended
    failed or cancelled or no pair was judged by both, ``ValueError`` when the statistics cannot
    be computed.
    """
    for run in (baseline_run, candidate_run):
        if run.status in UNUSABLE_RUN_STATUSES:
            raise RunsNotComparable(f"Run {run.pk} ended {run.status}: {run.error or 'no reason'}")
    records, unmatched = selectors.paired_records(
        baseline_run=baseline_run, candidate_run=candidate_run, repeat_run=repeat_run
    )
    if not records:
        raise RunsNotComparable(
            f"No pair was judged by both run {baseline_run.pk} and run {candidate_run.pk}."
        )
    result = compute_drift_report(
        PairedOutcomes.from_records(records),
        thresholds,
        n_bootstrap=N_BOOTSTRAP,
        seed=BOOTSTRAP_SEED,
    )
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
    stats["baseline_run"], stats["candidate_run"] = baseline_run.pk, candidate_run.pk
    return stats, flags


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
    repeat_run = selectors.repeat_run_for(report)
    try:
        stats, flags = runs_compare(
            baseline_run=baseline_run,
            candidate_run=candidate_run,
            thresholds=DriftThresholds(**report.thresholds),
            repeat_run=repeat_run,
        )
    except RunsNotComparable as exc:
        return drift_report_fail(report=report, reason=str(exc))
    except ValueError as exc:
        return drift_report_fail(report=report, reason=f"The statistics failed: {exc}")
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
                "pairs": stats["pairs_compared"],
            },
        )
        severity = stats.get("severity")
        if flags and severity:
            headline = explain.alert_headline(
                flags,
                baseline_number=locked.baseline_version.number,
                candidate_number=locked.candidate_version.number,
                # A fork of a blocked version says so where the admin decides on it.
                lineage=selectors.blocked_ancestry(locked.candidate_version),
            )
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
                partial(notify, alert_id=alert.pk, event=notifications.ALERT_OPENED)
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


def notify(*, alert_id: int, event: str) -> None:
    # A notification problem must never undo or hide the decision that caused it.
    try:
        notifications.alert_notify(alert_id=alert_id, event=event)
    except Exception:
        log.exception("notifying alert %s (%s) failed", alert_id, event)
