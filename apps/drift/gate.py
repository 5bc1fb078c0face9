"""The drift gate: whether a rubric version may take the ``production`` label.

``apps.rubrics.services.rubric_label_move`` asks every registered promotion check (see
``apps.rubrics.hooks``) with the rubric's row locked, in the transaction that moves the label;
:func:`promotion_check` is the drift app's, registered in ``DriftConfig.ready()``.

The rules, for the ``production`` label:

1. An open or blocked alert on the version refuses, whether or not the rubric is guarded: an
   alert, once raised, is a decision to make. A blocked version stays blocked until an admin
   approves that alert; an open one needs a decision (approve, or acknowledge when the
   comparison does not gate).
2. Under a guard, the version needs a comparison that passed or whose alert an admin
   **approved** against the version that holds ``production`` *now* and against the guard's
   anchor. An acknowledged alert refuses there: acknowledging says "I have seen this", not
   "ship it". A comparison still running refuses until it is done; one that failed or was never
   made (production moved since the version was checked, the anchor was moved) is started by
   the refusal itself, and the 409 links to it.
3. With neither a production version nor an anchor, there is nothing to compare against and
   the version goes through (it then becomes the anchor).

Other labels (``staging``...) are never refused here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.drift import selectors
from apps.drift.models import (
    AlertStatus,
    DriftAlert,
    DriftGuard,
    DriftReport,
    ReportStatus,
    ReportTrigger,
)
from apps.drift.services.checks import drift_check_start
from apps.rubrics.hooks import PromotionRefusal
from apps.rubrics.models import Rubric, RubricVersion

GATED_LABELS = frozenset({"production"})


def _report_links(report: DriftReport) -> dict[str, str]:
    links = {"report": reverse("drift-report-detail", kwargs={"pk": report.pk})}
    slug = report.rubric.project.slug
    links["page"] = reverse("drift:report", kwargs={"project": slug, "report": report.pk})
    return links


def _alert_links(alert: DriftAlert) -> dict[str, str]:
    slug = alert.rubric.project.slug
    return {
        "alert": reverse("alert-detail", kwargs={"pk": alert.pk}),
        "page": reverse("drift:alert", kwargs={"project": slug, "alert": alert.pk}),
    }


def _alert_refusal(
    name: str, alert: DriftAlert, production: RubricVersion | None
) -> PromotionRefusal:
    """Rule 1: the version's own open or blocked alert."""
    baseline = alert.report.baseline_version
    against = f"v{baseline.number}"
    if production is not None and production.pk == baseline.pk:
        against = f"production {against}"
    if alert.status == AlertStatus.BLOCKED:
        why = f" ({alert.reason})" if alert.reason else ""
        reason = (
            f"An admin blocked {name}: drift alert {alert.pk} against {against}{why}: "
            f"{alert.headline}. It stays blocked until that alert is approved."
        )
        return PromotionRefusal(reason=reason, code="drift_blocked", links=_alert_links(alert))
    reason = (
        f"Drift alert {alert.pk} on {name} against {against} is open ({alert.headline}); "
        "an admin must decide on it before promotion."
    )
    return PromotionRefusal(reason=reason, code="drift_alert_open", links=_alert_links(alert))


def _start_missing(
    *, rubric_id: int, version_id: int, baseline_ids: list[int], why: str
) -> PromotionRefusal:
    """Follow-up of a refusal: start the missing comparisons (after the refused transaction),
    and say where to watch them."""
    version = RubricVersion.objects.select_related("rubric__project").get(pk=version_id)
    started: list[DriftReport] = []
    for baseline in RubricVersion.objects.filter(pk__in=baseline_ids, rubric_id=rubric_id):
        try:
            report = drift_check_start(
                actor=None, version=version, baseline=baseline, trigger=ReportTrigger.PROMOTION
            )
        except ValidationError as exc:
            # The refusal stands either way; say why no check could start.
            return PromotionRefusal(
                reason=f"{why} No drift check could start: {'; '.join(exc.messages)}",
                code="drift_check_missing",
            )
        if report is not None:
            started.append(report)
    if not started:
        return PromotionRefusal(reason=why, code="drift_check_missing")
    first = started[0]
    numbers = ", ".join(str(r.pk) for r in started)
    return PromotionRefusal(
        reason=f"{why} A drift check started by itself (report {numbers}); promote once it has "
        "passed or its alert is approved.",
        code="drift_check_started",
        links=_report_links(first),
    )


def promotion_check(
    *, rubric: Rubric, version: RubricVersion, label: str, production: RubricVersion | None
) -> PromotionRefusal | None:
    """The drift app's promotion check (see the module docstring), or None to allow."""
    if label not in GATED_LABELS:
        return None
    name = f"v{version.number}"
    alert = selectors.refusing_alerts(version).select_related("rubric__project").first()
    if alert is not None:
        return _alert_refusal(name, alert, production)
    guard = selectors.guard_for(rubric)
    if not guard.enabled:
        return None
    if not guard.is_complete or guard.judge is None or guard.reference_set_id is None:
        return PromotionRefusal(
            reason=f"The drift guard of {rubric.name} is on but names no judge or reference set; "
            "complete the guard before promoting.",
            code="drift_guard_incomplete",
        )
    if production is not None and production.pk == version.pk:
        return None
    return _gating_refusal(rubric, version, guard, production)


def _gating_refusal(
    rubric: Rubric, version: RubricVersion, guard: DriftGuard, production: RubricVersion | None
) -> PromotionRefusal | None:
    """Rule 2: the comparisons against production now and against the anchor."""
    name = f"v{version.number}"
    assert guard.judge is not None and guard.reference_set_id is not None  # checked by caller
    missing: list[Any] = []
    for baseline in selectors.guard_baselines(
        version, guard=guard, production=production, gating_only=True
    ):
        report = selectors.comparison_report(
            candidate=version,
            baseline=baseline.version,
            judge=guard.judge,
            reference_set_id=guard.reference_set_id,
        )
        if report is None or report.status == ReportStatus.FAILED:
            missing.append(baseline)
            continue
        if report.status == ReportStatus.PENDING:
            return PromotionRefusal(
                reason=f"The drift check of {name} against {baseline.words} (report {report.pk}) "
                "is still running; promote once it is done.",
                code="drift_check_running",
                links=_report_links(report),
            )
        alert = selectors.report_alert(report)
        if alert is None or alert.status == AlertStatus.APPROVED:
            continue
        words = {
            AlertStatus.ACKNOWLEDGED: "is acknowledged but not approved",
            AlertStatus.OPEN: "is open",
            AlertStatus.BLOCKED: "is blocked",
        }.get(AlertStatus(alert.status), "is not approved")
        return PromotionRefusal(
            reason=f"{name} drifts from {baseline.words}: {alert.headline}. Drift alert "
            f"{alert.pk} {words}; an admin must approve it with a reason before promotion.",
            code="drift_not_approved",
            links=_alert_links(alert),
        )
    if not missing:
        return None
    failed = [
        b
        for b in missing
        if selectors.comparison_report(
            candidate=version,
            baseline=b.version,
            judge=guard.judge,
            reference_set_id=guard.reference_set_id,
        )
        is not None
    ]
    if production is not None and any(selectors.PRODUCTION in b.roles for b in missing):
        why = (
            f"Production is v{production.number} now and {name} was never compared with it on "
            "the guard's judge and reference set."
        )
    else:
        why = (
            f"{name} was never compared with {missing[0].words} on the guard's judge and "
            "reference set."
        )
    if failed:
        why = f"The drift check of {name} against {failed[0].words} failed."
    return PromotionRefusal(
        reason=why,
        code="drift_check_missing",
        follow_up=partial(
            _start_missing,
            rubric_id=rubric.pk,
            version_id=version.pk,
            baseline_ids=[b.version.pk for b in missing],
            why=why,
        ),
    )
