"""Where a version stands with the drift gate, for the rubrics app's pages.

Two of the rubrics app's seams (``apps.rubrics.hooks``) are filled from here: the version status
(the badge of the rubric list, the history and the version page) and the version panel (the
block under a version's heading that follows the guard's checks of a newly published version,
from the runs' progress to the decision, polled until every check is decided).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from apps.drift import selectors
from apps.drift.models import DriftAlert, DriftReport, ReportStatus
from apps.judging.models import JudgingRun
from apps.rubrics.hooks import VersionGate, VersionPanel
from apps.rubrics.models import RubricVersion

PANEL_TEMPLATE = "drift/partials/_version_gate.html"


def version_gate(version: RubricVersion) -> VersionGate:
    """The version's drift status as a badge (the ``version status`` seam)."""
    words = selectors.version_drift_status(version)
    return VersionGate(
        words=words, badge=selectors.STATUS_BADGES.get(words, ""), final=words != selectors.RUNNING
    )


@dataclass(frozen=True)
class CheckRow:
    """One comparison of the version: its baseline, its state and its runs' progress."""

    report: DriftReport
    against: str  # "production v1", "the anchor v1", "its parent v2"...
    words: str
    badge: str
    done: int  # judgments finished (judged or failed) over the report's runs
    total: int
    alert: DriftAlert | None

    @property
    def pending(self) -> bool:
        return self.report.status == ReportStatus.PENDING


def check_rows(version: RubricVersion) -> list[CheckRow]:
    """The guard's comparisons of ``version`` that exist, gating ones first; without a complete
    guard, the newest report of the version (a manual check)."""
    guard = selectors.guard_for(version.rubric)
    found: list[tuple[DriftReport, str]] = []
    if guard.is_complete and guard.judge is not None and guard.reference_set_id is not None:
        production = selectors.production_version(version.rubric)
        baselines = selectors.guard_baselines(version, guard=guard, production=production)
        for baseline in sorted(baselines, key=lambda b: not b.gates):
            report = selectors.comparison_report(
                candidate=version,
                baseline=baseline.version,
                judge=guard.judge,
                reference_set_id=guard.reference_set_id,
            )
            if report is not None:
                found.append((report, baseline.words))
    else:
        report = selectors.latest_report(version)
        if report is not None:
            found.append((report, f"v{report.baseline_version.number}"))
    return [_row(report, against) for report, against in found]


def _row(report: DriftReport, against: str) -> CheckRow:
    runs = [
        run
        for run in (report.baseline_run, report.candidate_run, report.repeat_run)
        if isinstance(run, JudgingRun)
    ]
    words = selectors.report_drift_status(report)
    return CheckRow(
        report=report,
        against=against,
        words=words,
        badge=selectors.STATUS_BADGES.get(words, ""),
        done=sum(run.done + run.failed for run in runs),
        total=sum(run.total for run in runs),
        alert=selectors.report_alert(report),
    )


def panel_context(version: RubricVersion) -> dict[str, object]:
    """What the panel template shows: the gate badge, each check and whether to poll again."""
    rows = check_rows(version)
    return {
        "gate": version_gate(version),
        "checks": rows,
        "final": not any(row.pending for row in rows),
        "starting": any(row.pending and row.done == 0 for row in rows),
        "poll_url": reverse(
            "drift:version_gate",
            kwargs={
                "project": version.rubric.project.slug,
                "rubric": version.rubric_id,
                "version": version.pk,
            },
        ),
        "project_slug": version.rubric.project.slug,
        "version": version,
    }


def version_panel(version: RubricVersion) -> VersionPanel | None:
    """The drift block of a published version's page (the ``version panel`` seam), or None when
    the version has no comparison to show."""
    if not version.is_published:
        return None
    context = panel_context(version)
    if not context["checks"]:
        return None
    return VersionPanel(template=PANEL_TEMPLATE, context=context)
