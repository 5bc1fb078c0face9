"""Drift pages: the alerts inbox, a report (or alert) with its evidence and the admin decision,
a rubric's drift history, the drift guard form and the "check this version" action.

Views stay thin: they load objects within the project, call selectors, services, the report
presenter (``presenters``) and the pure helpers (``charts``, ``explain``) and render. htmx
requests get partials of the same template.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from django_htmx.http import HttpResponseClientRefresh

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.filters import filtered_rows
from apps.core.forms import form_add_service_errors, service_error_messages
from apps.core.htmx import is_partial_request, no_store, template_for, with_messages
from apps.drift import explain, gate_state, presenters, selectors, services
from apps.drift.charts import history_chart
from apps.drift.filters import AlertFilter, ReportPageFilter
from apps.drift.forms import AnchorForm, GuardForm, ResolveForm
from apps.drift.models import DriftAlert, DriftReport, ReportStatus
from apps.rubrics.models import Rubric, RubricVersion

REPORT_TEMPLATE = "drift/report.html"
JUDGE_QUESTION_TEMPLATE = "drift/partials/_judge_question.html"
ALERTS_PER_PAGE = 25
REPORTS_PER_PAGE = 25
# The alert panel shows a refused decision's problems together, above its buttons.
PANEL_ERRORS = {"decision": NON_FIELD_ERRORS, "reason": NON_FIELD_ERRORS}


# --- inbox and report list ----------------------------------------------------------------------


class InboxView(ProjectAccessMixin, TemplateView):
    """The alerts inbox: open alerts first, then by severity and age; filterable."""

    template_name = "drift/inbox.html"
    required_capability = Capability.ALERT_VIEW

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Each row names its comparison: the baseline as well as the candidate.
        alerts = selectors.alerts_for_project(project=self.project).select_related(
            "report__baseline_version"
        )
        filtered = AlertFilter(self.request.GET or None, queryset=alerts, project=self.project)
        queryset = filtered_rows(filtered)
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
        report_filter = ReportPageFilter(self.request.GET or None, queryset=reports)
        reports = filtered_rows(report_filter)
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
        context.update(page=page, rows=rows, filter=report_filter)
        return context


# --- one report ----------------------------------------------------------------------------------


class _ReportPageMixin(ProjectAccessMixin):
    """Renders the report page (or one of its partials) for a report of this project."""

    required_capability = Capability.ALERT_VIEW
    request: HttpRequest

    def render_report(
        self, report: DriftReport, *, form: ResolveForm | None = None, status: int = 200
    ) -> HttpResponse:
        if is_partial_request(self.request):
            # The flip list alone (filtered or paged through htmx): not the charts, the
            # statistics and the diff around it.
            context = {"report": report, **presenters.flips_context(report, self.request.GET)}
        else:
            context = presenters.report_context(
                report,
                query=self.request.GET,
                partial=False,
                capabilities=self.capabilities,
                form=form,
            )
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


class ReportJudgeView(ProjectAccessMixin, View):
    """The report's "Rubric or judge?" box alone, polled while the 2 x 2 that splits its causes
    runs."""

    required_capability = Capability.ALERT_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = get_object_or_404(_report_queryset(), pk=kwargs["report"], project=self.project)
        context = {
            "project": self.project,
            "report": report,
            "judge_question": selectors.report_judge_question(report),
        }
        return no_store(render(request, JUDGE_QUESTION_TEMPLATE, context))


class AlertResolveView(_ReportPageMixin, View):
    """An admin approves (with a reason), blocks or acknowledges an alert: in place through htmx
    (the alert's panel with a confirmation), or a plain POST that redirects to the alert."""

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
                form_add_service_errors(form, exc, aliases=PANEL_ERRORS)
            else:
                messages.success(
                    request, f"Alert {alert.pk} is now {resolved.get_status_display().lower()}."
                )
                if not partial:
                    return redirect("drift:alert", project=self.project.slug, alert=alert.pk)
        report = get_object_or_404(_report_queryset(), pk=alert.report_id)
        context = presenters.report_context(
            report,
            query=request.GET,
            partial=partial,
            capabilities=self.capabilities,
            form=form if form.errors else None,
        )
        context.update(project=self.project, capabilities=self.capabilities)
        if partial:
            # htmx swaps only 2xx answers, so a refused decision comes back as 200 with errors.
            # The panel (status, decision, buttons) is swapped in place and the confirmation
            # joins the page's messages; without JavaScript the form posts and redirects.
            # The heading's status badge follows the decision, out of band.
            panel = render(request, f"{REPORT_TEMPLATE}#alert_panel", context)
            badge = render_to_string(f"{REPORT_TEMPLATE}#status", {**context, "oob": True})
            panel.content += badge.encode()
            return no_store(with_messages(request, panel))
        return render(request, REPORT_TEMPLATE, context, status=400)


# --- a rubric's drift history, its guard, and a manual check ------------------------------------


def _delta_evidence_url(project: Any, report: Any, name: str) -> str:
    """Where a delta of the history opens: the overall one the report's statistics, a domain's
    the report's flipped pairs of that domain (the pairs that moved it)."""
    if report is None:
        return ""
    url = reverse("drift:report", kwargs={"project": project.slug, "report": report.pk})
    if name == "overall":
        return f"{url}#statistics"
    return f"{url}?{urlencode({'domain': name})}#flipped-pairs"


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
                    {
                        "text": explain.points(delta) if delta is not None else "",
                        "drop": drop,
                        "url": _delta_evidence_url(self.project, row.report, name),
                    }
                )
            anchor_cells = []
            for name in ("overall", *domains):
                accuracy = row.anchor_accuracy.get(name)
                delta = row.anchor_deltas.get(name)
                anchor_cells.append(
                    {
                        "name": "all" if name == "overall" else name,
                        "accuracy": presenters.percent(accuracy) if accuracy is not None else "",
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
        context["judge_watch"] = selectors.guard_judge_watch(guard)
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
                form_add_service_errors(form, exc)
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
                form_add_service_errors(form, exc)
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
            for problem in service_error_messages(exc):
                messages.error(request, problem)
            return HttpResponseRedirect(history)
        report = reports[0] if reports else None
        if report is None:
            messages.info(request, f"v{version.number} has no earlier version to compare with.")
            return HttpResponseRedirect(history)
        messages.success(request, f"Drift check of v{version.number} started (report {report.pk}).")
        return redirect("drift:report", project=self.project.slug, report=report.pk)


class VersionGateView(ProjectAccessMixin, View):
    """The drift block of a version's page, polled while its checks run: each comparison's
    progress, then its result. Once every check is decided the block comes back without its
    polling trigger, so polling stops."""

    required_capability = Capability.RUBRIC_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        version = get_object_or_404(
            RubricVersion.objects.select_related("rubric__project"),
            pk=kwargs["version"],
            rubric_id=kwargs["rubric"],
            rubric__project=self.project,
        )
        context = {
            "project": self.project,
            "panel": gate_state.panel_context(version),
            "polled": True,  # the heading's gate badge follows the block
        }
        return no_store(render(request, gate_state.PANEL_TEMPLATE, context))
