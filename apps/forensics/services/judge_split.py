"""Splitting a drift report's causes when its judge moved between its runs.

A drift report whose runs were judged by different judges (another config, or the same one
edited in place between the runs; ``apps.drift.selectors.report_judge_moved``) cannot say on
its own whether the rubric or the judge moved the verdicts. Once such a report is ready,
``drift_report_judge_split`` starts the 2 x 2 of its two versions under its two judges
(``trigger=drift_report``, linked to the report), so the reviewer finds it on the report page
without asking. For a config edited in place, the old judge exists only in runs made before the
edit: when one version was never judged before it, the 2 x 2 cannot be made and the judge
alone is compared with the rubric held at the baseline (else at the candidate). When none can
start, a failed report says why.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.forms import service_error_messages
from apps.core.services import audit_event_record
from apps.drift import selectors as drift_selectors
from apps.drift.models import DriftReport, ReportStatus
from apps.drift.selectors import guard_thresholds
from apps.forensics.models import JobStatus, JudgeDriftKind, JudgeDriftReport, JudgeDriftTrigger
from apps.forensics.services.judge_drift import judge_drift_start, judge_state

log = logging.getLogger(__name__)


def _start(report: DriftReport, *, held: Any | None) -> JudgeDriftReport:
    """The 2 x 2 of the report's versions and judges, or with ``held`` the judge alone on that
    version."""
    assert report.baseline_run is not None and report.candidate_run is not None
    return judge_drift_start(
        actor=None,
        old_version=held or report.baseline_version,
        new_version=report.candidate_version if held is None else None,
        old_judge=report.baseline_run.judge,
        new_judge=report.candidate_run.judge,
        reference_set=report.reference_set,
        trigger=JudgeDriftTrigger.DRIFT_REPORT,
        drift_report=report,
    )


def _failed_split(report: DriftReport, reasons: list[str]) -> JudgeDriftReport:
    """A failed 2 x 2 that says why no split could start, so the report page can say so."""
    assert report.baseline_run is not None and report.candidate_run is not None
    old_judge, new_judge = report.baseline_run.judge, report.candidate_run.judge
    error = " ".join(reasons)[:4000]
    with transaction.atomic():
        split = JudgeDriftReport.objects.create(
            project_id=report.project_id,
            rubric_id=report.rubric_id,
            kind=JudgeDriftKind.FACTORIAL,
            trigger=JudgeDriftTrigger.DRIFT_REPORT,
            status=JobStatus.FAILED,
            reference_set_id=report.reference_set_id,
            old_version_id=report.baseline_version_id,
            new_version_id=report.candidate_version_id,
            old_judge=old_judge,
            new_judge=new_judge,
            old_judge_state=judge_state(old_judge),
            new_judge_state=judge_state(new_judge),
            thresholds=asdict(guard_thresholds(report.rubric)),
            error=error,
            finished_at=timezone.now(),
            drift_report=report,
        )
        audit_event_record(
            actor=None, action="judge_drift.fail", obj=split, after={"reason": error}
        )
    return split


def drift_report_judge_split(*, report_id: int) -> JudgeDriftReport | None:
    """Start the split of a ready drift report whose judge moved (see the module docstring):
    the 2 x 2, else the judge alone with the rubric held at the baseline or at the candidate,
    else a failed report that says why.
    Returns None when the judge did not move, or the split that exists already (one per report;
    the report's row is locked while looking)."""
    with transaction.atomic():
        report = (
            DriftReport.objects.select_for_update(of=("self",))
            .select_related(
                "baseline_run__judge",
                "candidate_run__judge",
                "baseline_version",
                "candidate_version",
                "reference_set",
                "rubric",
            )
            .filter(pk=report_id, status=ReportStatus.READY)
            .first()
        )
        if report is None:
            return None
        question = drift_selectors.report_judge_moved(report)
        if question is None or not question.moved:
            return None
        existing = JudgeDriftReport.objects.filter(drift_report=report).first()
        if existing is not None:
            return existing
        reasons: list[str] = []
        for held in (None, report.baseline_version, report.candidate_version):
            try:
                return _start(report, held=held)
            except ValidationError as exc:
                what = "The 2 x 2" if held is None else f"The judge alone on v{held.number}"
                reasons.append(f"{what} could not start: {'; '.join(service_error_messages(exc))}")
        log.warning("no split of drift report %s could start: %s", report_id, reasons)
        return _failed_split(report, reasons)


def drift_report_judge_split_safely(*, report_id: int) -> None:
    """``drift_report_judge_split`` for the receiver: a failure is logged, never raised into
    the report's build."""
    try:
        drift_report_judge_split(report_id=report_id)
    except Exception:
        log.exception("the split of drift report %s could not start", report_id)
