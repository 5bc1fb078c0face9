"""A rubric's drift history: each published version with its gate state and its distance from
the guard's anchor."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from apps.drift.models import DriftAlert, DriftReport, ReportStatus
from apps.drift.selectors.guard import drift_predecessor, guard_for
from apps.drift.selectors.status import (
    blocked_ancestry,
    comparison_report,
    gate_report,
    latest_report,
    report_alert,
    version_drift_status,
)
from apps.rubrics.models import Rubric, RubricVersion, VersionStatus


@dataclass(frozen=True)
class HistoryRow:
    """One published version on the drift history page."""

    version: RubricVersion
    predecessor: RubricVersion | None
    status: str
    report: DriftReport | None
    alert: DriftAlert | None
    deltas: dict[str, float | None]
    # Against the guard's anchor: the comparison, and per domain the candidate's accuracy and
    # its change (the anchor itself: its own accuracy and zero).
    anchor_report: DriftReport | None = None
    anchor_accuracy: dict[str, float | None] = field(default_factory=dict)
    anchor_deltas: dict[str, float | None] = field(default_factory=dict)
    is_anchor: bool = False
    lineage: str = ""


def _anchor_figures(
    report: DriftReport, *, side: str
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    accuracy: dict[str, float | None] = {"overall": report.overall.get(f"{side}_accuracy")}
    deltas: dict[str, float | None] = {
        "overall": report.overall.get("delta") if side == "candidate" else 0.0
    }
    for name, scope in report.by_domain.items():
        accuracy[name] = scope.get(f"{side}_accuracy")
        deltas[name] = scope.get("delta") if side == "candidate" else 0.0
    return accuracy, deltas


def rubric_drift_history(*, rubric: Rubric) -> tuple[list[HistoryRow], list[str]]:
    """Every published version, newest first, with its gate state, the deltas of its gate report
    and its per-domain accuracy against the guard's anchor.

    Returns the rows and the domains seen in any report, so the page can lay the figures out as
    columns and chart how far each version has moved from the anchor.
    """
    versions = list(
        RubricVersion.objects.filter(rubric=rubric, status=VersionStatus.PUBLISHED)
        .select_related("rubric", "parent", "author")
        .order_by("-published_at", "-number")
    )
    guard = guard_for(rubric)
    anchor = guard.anchor
    rows: list[HistoryRow] = []
    domains: set[str] = set()
    anchor_baseline: DriftReport | None = None
    for version in versions:
        report = gate_report(version) if guard.is_complete else latest_report(version)
        deltas: dict[str, float | None] = {}
        if report is not None and report.status == ReportStatus.READY:
            deltas = {name: scope.get("delta") for name, scope in report.by_domain.items()}
            deltas["overall"] = report.overall.get("delta")
            domains.update(name for name in deltas if name != "overall")
        anchor_report = None
        accuracy: dict[str, float | None] = {}
        anchor_deltas: dict[str, float | None] = {}
        if (
            anchor is not None
            and guard.judge is not None
            and guard.reference_set_id is not None
            and version.pk != anchor.pk
        ):
            anchor_report = comparison_report(
                candidate=version,
                baseline=anchor,
                judge=guard.judge,
                reference_set_id=guard.reference_set_id,
            )
            if anchor_report is not None and anchor_report.status == ReportStatus.READY:
                accuracy, anchor_deltas = _anchor_figures(anchor_report, side="candidate")
                domains.update(name for name in accuracy if name != "overall")
                anchor_baseline = anchor_baseline or anchor_report
        rows.append(
            HistoryRow(
                version=version,
                predecessor=drift_predecessor(version),
                status=version_drift_status(version),
                report=report,
                alert=report_alert(report) if report is not None else None,
                deltas=deltas,
                anchor_report=anchor_report,
                anchor_accuracy=accuracy,
                anchor_deltas=anchor_deltas,
                is_anchor=anchor is not None and version.pk == anchor.pk,
                lineage=blocked_ancestry(version),
            )
        )
    if anchor_baseline is not None:
        # The anchor's own accuracy, read from the baseline side of a comparison against it.
        accuracy, anchor_deltas = _anchor_figures(anchor_baseline, side="baseline")
        rows = [
            replace(row, anchor_accuracy=accuracy, anchor_deltas=anchor_deltas)
            if row.is_anchor
            else row
            for row in rows
        ]
    return rows, sorted(domains)
