"""The drift gate: whether a rubric version may take the ``production`` label.

``apps.rubrics.services.rubric_label_move`` asks :func:`promotion_refusal` before every label
move (API, pages and admin alike) and refuses with 409 and the returned reason.

The rule, for the ``production`` label of a rubric whose drift guard is on:

- the version's gate report (see ``selectors.gate_report``: the latest report against its
  predecessor on the guard's judge and reference set) must exist and be ready;
- a ready report that raised no alert lets the version through;
- a report with an alert lets it through only when an admin **approved** the alert. An open,
  blocked or *acknowledged* alert refuses: acknowledging says "I have seen this", not "ship it";
- the first published version has nothing to be compared with and goes through.

Other labels (``staging``...) and unguarded rubrics are never refused here.
"""

from __future__ import annotations

from apps.drift import selectors
from apps.drift.models import AlertStatus, ReportStatus
from apps.rubrics.models import Rubric, RubricVersion

GATED_LABELS = frozenset({"production"})


def promotion_refusal(*, rubric: Rubric, version: RubricVersion, label: str) -> str | None:
    """The reason the drift gate refuses to point ``label`` at ``version``, or None to allow."""
    if label not in GATED_LABELS or not rubric.guard_enabled:
        return None
    name = f"v{version.number}"
    if not selectors.guard_is_complete(rubric):
        return (
            f"The drift guard of {rubric.name} is on but names no judge or reference set; "
            "complete the guard before promoting."
        )
    predecessor = selectors.drift_predecessor(version)
    if predecessor is None:
        return None
    report = selectors.gate_report(version, rubric)
    if report is None:
        return (
            f"No drift report compares {name} with v{predecessor.number} on the guard's judge "
            "and reference set; run the drift check before promoting."
        )
    if report.status == ReportStatus.PENDING:
        return f"The drift check of {name} (report {report.pk}) is still running."
    if report.status == ReportStatus.FAILED:
        return (
            f"The drift check of {name} (report {report.pk}) failed: "
            f"{report.error or 'see the report'}. Run it again before promoting."
        )
    alert = selectors.report_alert(report)
    if alert is None or alert.status == AlertStatus.APPROVED:
        return None
    if alert.status == AlertStatus.BLOCKED:
        return f"An admin blocked {name}: drift alert {alert.pk} ({alert.headline})."
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return (
            f"Drift alert {alert.pk} on {name} is acknowledged but not approved "
            f"({alert.headline}); an admin must approve it with a reason."
        )
    return (
        f"Drift alert {alert.pk} on {name} is open ({alert.headline}); "
        "an admin must approve it with a reason before promotion."
    )
