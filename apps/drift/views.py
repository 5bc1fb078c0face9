"""Drift pages: the alerts inbox, a report (or alert) with its evidence and the admin decision,
a rubric's drift history, the drift guard form and the "check this version" action.

Views stay thin: they load objects within the project, call selectors, services and the pure
helpers (``charts``, ``explain``) and render. htmx requests get partials of the same template.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from django_htmx.http import HttpResponseClientRefresh

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.htmx import is_partial_request, no_store, template_for
from apps.drift import explain, selectors, services
from apps.drift.charts import accuracy_chart, history_chart
from apps.drift.explain import DASH
from apps.drift.filters import AlertFilter
from apps.drift.forms import AnchorForm, GuardForm, ResolveForm
from apps.drift.models import DriftAlert, DriftReport, ReportStatus
from apps.rubrics.diff import diff_rubrics
from apps.rubrics.models import Rubric, RubricVersion

REPORT_TEMPLATE = "drift/report.html"
ALERTS_PER_PAGE = 25
REPORTS_PER_PAGE = 25
FLIPS_PER_PAGE = 20
DIFF_PARTIAL = "rubrics/partials/_diff.html"
SCOPE_FIELDS = (
    "n",
    "baseline_accuracy",
    "candidate_accuracy",
    "delta",
    "delta_ci",
    "mcnemar_p",
    "p_holm",
    "q_bh",
    "flip_rate",
    "flips",
    "mde",
    "noise_floor",
)


def _field_errors(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            problem if field == "__all__" else f"{field}: {problem}"
            for field, problems in error.message_dict.items()
            for problem in problems
        ]
    return list(error.messages)


# --- inbox and report list ----------------------------------------------------------------------


class InboxView(ProjectAccessMixin, TemplateView):
    """The alerts inbox: open alerts first, then by severity and age; filterable."""

    template_name = "drift/inbox.html"
    required_capability = Capability.ALERT_VIEW

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        alerts = selectors.alerts_for_project(project=self.project)
        filtered = AlertFilter(self.request.GET or None, queryset=alerts, project=self.project)
        queryset = filtered.qs if filtered.is_bound and filtered.is_valid() else alerts
        page = Paginator(queryset, ALERTS_PER_PAGE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filter=filtered,
            page=page,
            alerts=page.object_list,
            query=query.urlencode(),
            open_count=selectors.open_alerts(project=self.project).count(),
            filtered=bool(self.request.GET.get("status") or self.request.GET.get("severity")),
        )
        return context


class ReportListView(ProjectAccessMixin, TemplateView):
    """Every drift report of the project, newest first (passed ones included)."""

    template_name = "drift/reports.html"
    required_capability = Capability.ALERT_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        reports = selectors.reports_for_project(project=self.project)
        page = Paginator(reports, REPORTS_PER_PAGE).get_page(self.request.GET.get("page"))
        rows = []
        for report in page:
            status = selectors.report_drift_status(report)
            rows.append(
                {
                    "report": report,
                    "status": status,
                    "badge": selectors.STATUS_BADGES.get(status, ""),
                    "delta": explain.points(report.overall.get("delta")),
                }
            )
        context.update(page=page, rows=rows)
        return context


# --- one report ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _scope_row(
    name: str, scope: dict[str, Any], min_effect: float, flagged: set[str]
) -> dict[str, Any]:
    """One line of the statistics table, with its numbers already worded for the page."""
    row = {field: scope.get(field) for field in SCOPE_FIELDS}
    ci = scope.get("delta_ci") or [None, None]
    noise = scope.get("noise_floor")
    row.update(
        name=name,
        flagged=name in flagged,
        baseline_pct=_pct(scope.get("baseline_accuracy")) or DASH,
        candidate_pct=_pct(scope.get("candidate_accuracy")) or DASH,
        delta_pts=explain.points(scope.get("delta")),
        ci_pts=(
            f"{ci[0] * 100:+.1f} to {ci[1] * 100:+.1f}"
            if ci[0] is not None and ci[1] is not None
            else ""
        ),
        p_text=_p(scope.get("mcnemar_p")),
        holm_text=_p(scope.get("p_holm")),
        bh_text=_p(scope.get("q_bh")),
        flip_pct=_pct(scope.get("flip_rate")),
        mde_text=f"{scope['mde'] * 100:.1f} pts" if scope.get("mde") is not None else "",
        noise_text=_pct(noise) if noise is not None else "",
        power_note=explain.power_note(int(scope.get("n") or 0), scope.get("mde"), min_effect),
        noise_source=scope.get("noise_floor_source"),
        directions=[
            (key, explain.DIRECTION_TITLES[key], explain.direction_sentence(key, test), test)
            for key, test in (scope.get("direction") or {}).items()
        ],
    )
    return row


FAMILY_TITLES = {"accuracy": "Accuracy drop", **explain.DIRECTION_TITLES}


def _family_context(report: DriftReport) -> dict[str, Any]:
    """The report's alert family (each test's raw and adjusted p) and its direction notes."""
    family = report.stats.get("family") or {}
    tests = [
        {
            "test": test.get("test"),
            "title": FAMILY_TITLES.get(str(test.get("test")), str(test.get("test"))),
            "scope": test.get("domain") or "all pairs",
            "p_text": _p(test.get("p")),
            "adjusted_text": _p(test.get("p_adjusted")),
            "weight_text": f"{test['weight'] * 100:.1f}%" if test.get("weight") else "",
            "survived": bool(test.get("survived")),
        }
        for test in family.get("tests") or []
    ]
    return {
        "family_tests": tests,
        "family_method": str(family.get("method") or "").capitalize(),
        "direction_notes": list(report.stats.get("direction_notes") or []),
    }


def _rubric_diff(report: DriftReport) -> dict[str, Any]:
    return diff_rubrics(
        report.baseline_version.to_spec(), report.candidate_version.to_spec()
    ).to_dict()


def _diff_template() -> str | None:
    try:
        get_template(DIFF_PARTIAL)
    except TemplateDoesNotExist:
        return None
    return DIFF_PARTIAL


def report_context(
    request: HttpRequest, report: DriftReport, capabilities: set[str], form: ResolveForm | None
) -> dict[str, Any]:
    """Everything the report page shows: chart, table, flags, notes, diff, flips, decision."""
    alert = selectors.report_alert(report)
    status = selectors.report_drift_status(report)
    flags = list(report.flags or [])
    overall = report.overall
    by_domain = report.by_domain
    thresholds = report.thresholds or {}
    min_effect = float(thresholds.get("min_effect", 0.02))
    flagged = {
        str(flag.get("domain"))
        for flag in flags
        if flag.get("kind") in ("domain_drift", "masked_drift") and flag.get("domain")
    }
    rows = []
    if overall:
        rows.append(_scope_row("all pairs", overall, min_effect, flagged))
    rows.extend(
        _scope_row(name, by_domain[name], min_effect, flagged) for name in sorted(by_domain)
    )

    domain = request.GET.get("domain", "")
    direction = request.GET.get("direction", "")
    flips = selectors.filter_flips(
        report.stats.get("flipped") or [], domain=domain, direction=direction
    )
    page = Paginator(flips, FLIPS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "report": report,
        "alert": alert,
        "lineage": selectors.blocked_ancestry(report.candidate_version),
        "status": status,
        "waiting_runs": selectors.report_waiting_runs(report),
        "status_badge": selectors.STATUS_BADGES.get(status, ""),
        "diff_old_label": f"v{report.baseline_version.number}",
        "diff_new_label": f"v{report.candidate_version.number}",
        "chart": accuracy_chart(by_domain, overall, flagged=flagged) if overall else None,
        "rows": rows,
        "flags": [
            (
                flag,
                explain.FLAG_TITLES.get(str(flag.get("kind")), str(flag.get("kind"))),
                explain.explain_flag(flag, overall),
            )
            for flag in flags
        ],
        "power_notes": [row for row in rows if row["power_note"]],
        **_family_context(report),
        "overall_directions": rows[0]["directions"] if rows else [],
        # A partial (the flip list) never shows the diff: skip computing it.
        "diff": None if is_partial_request(request) else _rubric_diff(report),
        "diff_template": _diff_template(),
        "flips": selectors.flip_details(report, list(page.object_list)),
        "flips_page": page,
        "flips_total": len(report.stats.get("flipped") or []),
        "flips_query": query.urlencode(),
        "flip_domain": domain,
        "flip_direction": direction,
        "flip_domains": sorted(by_domain),
        "direction_filters": [
            (key, words) for key, (_, _, words) in selectors.DIRECTION_FILTERS.items()
        ],
        "deliveries": list(alert.deliveries.all()[:20]) if alert is not None else [],
        "can_resolve": Capability.ALERT_RESOLVE.value in capabilities,
        "form": form or ResolveForm(),
        "pairs_compared": report.stats.get("pairs_compared"),
        "thresholds_points": {
            "min_effect": min_effect * 100,
            "tolerance": float(thresholds.get("tolerance", 0.01)) * 100,
            "alpha": thresholds.get("alpha"),
        },
    }


class _ReportPageMixin(ProjectAccessMixin):
    """Renders the report page (or one of its partials) for a report of this project."""

    required_capability = Capability.ALERT_VIEW
    request: HttpRequest

    def render_report(
        self, report: DriftReport, *, form: ResolveForm | None = None, status: int = 200
    ) -> HttpResponse:
        context = report_context(self.request, report, self.capabilities, form)
        context.update(project=self.project, capabilities=self.capabilities)
        template = template_for(self.request, REPORT_TEMPLATE, "flips")
        return render(self.request, template, context, status=status)


def _report_queryset() -> Any:
    return DriftReport.objects.select_related(
        "rubric",
        "baseline_version",
        "candidate_version",
        "baseline_run",
        "candidate_run",
        "repeat_run",
        "judge",
        "reference_set",
        "created_by",
    )


class ReportDetailView(_ReportPageMixin, View):
    """A drift report: chart, statistics, flags, notes, rubric diff and the flipped pairs."""

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = get_object_or_404(_report_queryset(), pk=kwargs["report"], project=self.project)
        return self.render_report(report)


class AlertDetailView(_ReportPageMixin, View):
    """An alert: its report's page with the decision panel on top."""

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        alert = get_object_or_404(DriftAlert, pk=kwargs["alert"], project=self.project)
        report = get_object_or_404(_report_queryset(), pk=alert.report_id)
        return self.render_report(report)


class ReportStatusView(ProjectAccessMixin, View):
    """Polled while a report is pending; reloads the page once it is ready or failed."""

    required_capability = Capability.ALERT_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = get_object_or_404(_report_queryset(), pk=kwargs["report"], project=self.project)
        if report.status != ReportStatus.PENDING and is_partial_request(request):
            return HttpResponseClientRefresh()
        status = selectors.report_drift_status(report)
        context = {
            "project": self.project,
            "report": report,
            "status": status,
            "status_badge": selectors.STATUS_BADGES.get(status, ""),
        }
        return no_store(render(request, f"{REPORT_TEMPLATE}#status", context))


class AlertResolveView(_ReportPageMixin, View):
    """An admin approves (with a reason), blocks or acknowledges an alert."""

    required_capability = Capability.ALERT_RESOLVE

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        alert = get_object_or_404(
            DriftAlert.objects.select_related("project"), pk=kwargs["alert"], project=self.project
        )
        form = ResolveForm(request.POST)
        partial = is_partial_request(request)
        if form.is_valid():
            try:
                resolved = services.alert_resolve(
                    actor=request.user,
                    alert=alert,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                for problem in _field_errors(exc):
                    form.add_error(None, problem)
            else:
                messages.success(
                    request, f"Alert {alert.pk} is now {resolved.get_status_display().lower()}."
                )
                if not partial:
                    return redirect("drift:alert", project=self.project.slug, alert=alert.pk)
        report = get_object_or_404(_report_queryset(), pk=alert.report_id)
        context = report_context(request, report, self.capabilities, form if form.errors else None)
        context.update(project=self.project, capabilities=self.capabilities)
        if partial:
            # htmx swaps only 2xx answers, so a refused decision comes back as 200 with errors.
            return render(request, f"{REPORT_TEMPLATE}#alert_panel", context)
        return render(request, REPORT_TEMPLATE, context, status=400)


# --- a rubric's drift history, its guard, and a manual check ------------------------------------


class RubricHistoryView(ProjectAccessMixin, TemplateView):
    """Each published version with its gate state, its deltas against the version it was
    checked with, and a chart of its per-domain accuracy against the guard's anchor."""

    template_name = "drift/rubric_history.html"
    required_capability = Capability.ALERT_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rubric = get_object_or_404(Rubric, pk=self.kwargs["rubric"], project=self.project)
        guard = selectors.guard_for(rubric)
        history, domains = selectors.rubric_drift_history(rubric=rubric)
        min_effect = guard.min_effect
        rows = []
        for row in history:
            cells = []
            for name in ("overall", *domains):
                delta = row.deltas.get(name)
                drop = delta is not None and delta <= -min_effect
                cells.append(
                    {"text": explain.points(delta) if delta is not None else "", "drop": drop}
                )
            anchor_cells = []
            for name in ("overall", *domains):
                accuracy = row.anchor_accuracy.get(name)
                delta = row.anchor_deltas.get(name)
                anchor_cells.append(
                    {
                        "name": "all" if name == "overall" else name,
                        "accuracy": _pct(accuracy) if accuracy is not None else "",
                        "delta": explain.points(delta) if delta is not None else "",
                        "drop": delta is not None and delta <= -min_effect,
                    }
                )
            rows.append(
                {
                    "row": row,
                    "badge": selectors.STATUS_BADGES.get(row.status, ""),
                    "cells": cells,
                    "anchor_cells": anchor_cells,
                }
            )
        oldest_first = list(reversed(history))
        chart = None
        if guard.anchor is not None and any(row.anchor_deltas for row in history):
            chart = history_chart(
                [
                    (
                        f"v{row.version.number}",
                        row.status,
                        selectors.STATUS_BADGES.get(row.status, ""),
                        row.is_anchor,
                    )
                    for row in oldest_first
                ],
                {
                    name: [row.anchor_deltas.get(name) for row in oldest_first]
                    for name in ("overall", *domains)
                },
                min_effect=min_effect,
            )
        context.update(
            rubric=rubric,
            guard=guard,
            production=selectors.production_version(rubric),
            rows=rows,
            domains=domains,
            chart=chart,
            min_effect_pts=f"{guard.min_effect * 100:g}",
            tolerance_pts=f"{guard.tolerance * 100:g}",
            guarded=guard.is_complete,
            can_check=Capability.RUN_START.value in self.capabilities,
            can_edit_guard=Capability.GUARD_EDIT.value in self.capabilities,
            checkable={selectors.NOT_CHECKED, selectors.FAILED},
        )
        return context


class GuardView(ProjectAccessMixin, TemplateView):
    """Edit a rubric's drift guard: on/off, reference set, judge and thresholds, and move its
    anchor (admins)."""

    template_name = "drift/guard.html"
    required_capability = Capability.GUARD_EDIT

    def get_rubric(self) -> Rubric:
        return get_object_or_404(Rubric, pk=self.kwargs["rubric"], project=self.project)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # ``kwargs`` also holds the URL's ``rubric`` id, hence the separate name.
        rubric = kwargs.get("guarded_rubric") or self.get_rubric()
        guard = selectors.guard_for(rubric)
        form = kwargs.get("form") or GuardForm(
            project=self.project, initial=GuardForm.initial_for(guard)
        )
        anchor_form = kwargs.get("anchor_form") or AnchorForm(
            rubric=rubric, initial={"version": guard.anchor_id}
        )
        context.update(rubric=rubric, guard=guard, form=form, anchor_form=anchor_form)
        context["guard_power"] = selectors.guard_power_summary(rubric)
        return context

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        rubric = self.get_rubric()
        form = GuardForm(request.POST, project=self.project)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.rubric_guard_update(
                    actor=request.user,
                    rubric=rubric,
                    enabled=data["enabled"],
                    reference_set=data["reference_set"],
                    judge=data["judge"],
                    min_effect=data["min_effect_points"] / 100,
                    tolerance=data["tolerance_points"] / 100,
                    alpha=data["alpha"],
                )
            except ValidationError as exc:
                for problem in _field_errors(exc):
                    form.add_error(None, problem)
            else:
                messages.success(request, f"Drift guard of {rubric.name} saved.")
                return redirect("drift:rubric_history", project=self.project.slug, rubric=rubric.pk)
        context = self.get_context_data(guarded_rubric=rubric, form=form)
        return self.render_to_response(context, status=400)


class AnchorView(GuardView):
    """Move the guard's trusted anchor to another published version, with a reason (admins)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return redirect("drift:guard", project=self.project.slug, rubric=self.kwargs["rubric"])

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        rubric = self.get_rubric()
        form = AnchorForm(request.POST, rubric=rubric)
        if form.is_valid():
            version = form.cleaned_data["version"]
            try:
                services.guard_anchor_move(
                    actor=request.user,
                    rubric=rubric,
                    version=version,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                for problem in _field_errors(exc):
                    form.add_error(None, problem)
            else:
                messages.success(request, f"The anchor of {rubric.name} is now v{version.number}.")
                return redirect("drift:rubric_history", project=self.project.slug, rubric=rubric.pk)
        context = self.get_context_data(guarded_rubric=rubric, anchor_form=form)
        return self.render_to_response(context, status=400)


class CheckVersionView(ProjectAccessMixin, View):
    """Start the guard's comparisons of a published version (production, anchor, parent), or
    show the ones already made: a decided comparison is never made twice."""

    required_capability = Capability.RUN_START

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        version = get_object_or_404(
            RubricVersion.objects.select_related("rubric"),
            pk=kwargs["version"],
            rubric_id=kwargs["rubric"],
            rubric__project=self.project,
        )
        history = reverse(
            "drift:rubric_history",
            kwargs={"project": self.project.slug, "rubric": version.rubric_id},
        )
        try:
            reports = services.guard_checks_start(actor=request.user, version=version)
        except ValidationError as exc:
            for problem in _field_errors(exc):
                messages.error(request, problem)
            return HttpResponseRedirect(history)
        report = reports[0] if reports else None
        if report is None:
            messages.info(request, f"v{version.number} has no earlier version to compare with.")
            return HttpResponseRedirect(history)
        messages.success(request, f"Drift check of v{version.number} started (report {report.pk}).")
        return redirect("drift:report", project=self.project.slug, report=report.pk)
