"""Forensics pages: the panel of a drift report (polled while an attribution runs), starting an
attribution, and a judge drift report with the flipped pairs of each of its comparisons.

Views stay thin: they load objects within the project, call services and selectors, render.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.forms import service_error_messages
from apps.core.htmx import is_partial_request, no_store, template_for
from apps.drift.explain import DASH
from apps.drift.models import DriftReport, ReportStatus
from apps.drift.presenters import comparison_flips_context
from apps.forensics import selectors, services
from apps.forensics.models import JobStatus, JudgeDriftReport, JudgeDriftTrigger
from apps.forensics.services import COMPARISON_RUNS
from apps.judging.models import JudgingRun
from apps.rubrics.models import Rubric

PANEL_TEMPLATE = "forensics/_report_panel.html"


def panel_context(
    *, request: HttpRequest, report: DriftReport, project: Project, capabilities: set[str]
) -> dict[str, Any]:
    """What the forensics panel of a drift report shows."""
    data = selectors.report_forensics(report)
    attribution = data["attribution"]
    data.update(
        request=request,
        report=report,
        project=project,
        can_attribute=(
            Capability.RUN_START.value in capabilities
            and report.status == ReportStatus.READY
            and bool(report.stats.get("flipped"))
            and (attribution is None or not attribution.is_active)
        ),
        polling=attribution is not None and attribution.is_active,
        errors=[],
    )
    return data


def _report(project: Project, pk: int) -> DriftReport:
    return get_object_or_404(
        DriftReport.objects.select_related(
            "baseline_version", "candidate_version", "baseline_run", "candidate_run", "judge"
        ),
        pk=pk,
        project=project,
    )


class PanelView(ProjectAccessMixin, View):
    """The panel alone (htmx polls it while an attribution runs)."""

    required_capability = Capability.ALERT_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = _report(self.project, kwargs["report"])
        context = panel_context(
            request=request, report=report, project=self.project, capabilities=self.capabilities
        )
        return no_store(render(request, PANEL_TEMPLATE, context))


class AttributeView(ProjectAccessMixin, View):
    """Start the clause attribution of a drift report (authors and admins)."""

    required_capability = Capability.RUN_START

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = _report(self.project, kwargs["report"])
        errors: list[str] = []
        try:
            services.attribution_start(actor=request.user, report=report)
        except ValidationError as exc:
            errors = service_error_messages(exc)
        if is_partial_request(request):
            context = panel_context(
                request=request,
                report=report,
                project=self.project,
                capabilities=self.capabilities,
            )
            context["errors"] = errors
            return no_store(render(request, PANEL_TEMPLATE, context))
        for problem in errors:
            messages.error(request, problem)
        if not errors:
            messages.success(request, f"Attribution of report {report.pk} started.")
        return redirect("drift:report", project=self.project.slug, report=report.pk)


COMPARISON_TITLES = {
    "judge": "New judge against old judge (rubric fixed)",
    "judge_under_old_rubric": "Judge change under the old rubric",
    "judge_under_new_rubric": "Judge change under the new rubric",
    "rubric_under_old_judge": "Rubric change under the old judge",
    "rubric_under_new_judge": "Rubric change under the new judge",
}


def _judge_drift_report(view: ProjectAccessMixin, pk: int) -> JudgeDriftReport:
    return get_object_or_404(selectors.judge_drift_reports_for_project(project=view.project), pk=pk)


class JudgeDriftDetailView(ProjectAccessMixin, View):
    """A judge drift report: the comparisons, their flags, and for the 2 x 2 the effects."""

    required_capability = Capability.ALERT_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = _judge_drift_report(self, kwargs["pk"])
        comparisons = report.stats.get("comparisons") or {}
        # Each comparison's (baseline run, candidate run): its accuracies open those runs' pairs.
        rows = []
        for name, (old_run, new_run) in COMPARISON_RUNS.items():
            comparison = comparisons.get(name)
            if comparison is None:
                continue
            scopes = [("", "all pairs", comparison.get("overall") or {})]
            scopes += [(d, d, s) for d, s in sorted((comparison.get("by_domain") or {}).items())]
            rows.append(
                {
                    "name": name,
                    "title": COMPARISON_TITLES[name],
                    "scopes": scopes,
                    "baseline_run": getattr(report, f"{old_run}_id"),
                    "candidate_run": getattr(report, f"{new_run}_id"),
                }
            )
        effects = sorted(
            (report.stats.get("effects") or {}).items(), key=lambda item: item[0] != "overall"
        )
        # The guard's own check, or any judge-only report that decides its pending judge.
        guard_decision = report.trigger == JudgeDriftTrigger.GUARD or (
            selectors.report_decides_guard_judge(report)
        )
        context = {
            "project": self.project,
            "capabilities": self.capabilities,
            "report": report,
            "comparisons": rows,
            "effects": effects,
            "guard_decision": guard_decision,
            "can_accept": guard_decision
            and not report.is_accepted
            and (report.status == JobStatus.FAILED or bool(report.flags))
            and Capability.GUARD_EDIT.value in self.capabilities,
        }
        return render(request, "forensics/judge_drift.html", context)


class JudgeDriftFlipsView(ProjectAccessMixin, View):
    """The flipped pairs of one comparison of a judge drift report (its flip counts open them),
    filtered and paginated through htmx as a drift report's are, each with both runs' judgments."""

    required_capability = Capability.ALERT_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = _judge_drift_report(self, kwargs["pk"])
        name = kwargs["comparison"]
        if name not in COMPARISON_RUNS:
            raise Http404("A judge drift report has no such comparison.")
        run_ids = [getattr(report, f"{field}_id") for field in COMPARISON_RUNS[name]]
        by_id = JudgingRun.objects.select_related("rubric_version", "judge").in_bulk(
            [pk for pk in run_ids if pk]
        )
        runs = [by_id.get(pk) if pk else None for pk in run_ids]
        stats = (report.stats.get("comparisons") or {}).get(name) or {}
        context = {
            "project": self.project,
            "capabilities": self.capabilities,
            "report": report,
            "title": COMPARISON_TITLES[name],
            "computed": bool(stats),
            **comparison_flips_context(
                stats,
                baseline_run_id=run_ids[0],
                candidate_run_id=run_ids[1],
                labels=(_run_label(runs[0]), _run_label(runs[1])),
                query=request.GET,
            ),
        }
        template = template_for(request, "forensics/judge_drift_flips.html", "flips")
        return render(request, template, context)


def _run_label(run: JudgingRun | None) -> str:
    """One side of a comparison in words: the run's rubric version and judge."""
    if run is None:
        return DASH
    return f"v{run.rubric_version.number}, {run.judge.name}"


class JudgeDriftAcceptView(ProjectAccessMixin, View):
    """An admin accepts a guard's new judge despite the report's flags, with a reason."""

    required_capability = Capability.GUARD_EDIT

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        report = get_object_or_404(
            selectors.judge_drift_reports_for_project(project=self.project), pk=kwargs["pk"]
        )
        try:
            services.guard_judge_accept(
                actor=request.user, report=report, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            for problem in service_error_messages(exc):
                messages.error(request, problem)
        else:
            messages.success(request, f"{report.new_judge} is accepted for the guard.")
        return redirect("forensics:judge_drift", project=self.project.slug, pk=report.pk)


class GuardJudgeCheckView(ProjectAccessMixin, View):
    """Start the guard's judge check now, when no report exists for its new judge (admins)."""

    required_capability = Capability.GUARD_EDIT

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        rubric = get_object_or_404(Rubric, pk=kwargs["rubric"], project=self.project)
        try:
            report = services.guard_judge_check_now(actor=request.user, rubric=rubric)
        except ValidationError as exc:
            for problem in service_error_messages(exc):
                messages.error(request, problem)
        else:
            messages.success(request, f"Judge drift report {report.pk} started for the guard.")
        return redirect("drift:guard", project=self.project.slug, rubric=rubric.pk)
