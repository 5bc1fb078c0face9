"""Red-team pages: the list, the start form, a job with live progress, its frontier and result.

Views stay thin: they load objects within the project and call selectors, services and the pure
chart geometry. The progress panel is an htmx partial of the detail template, polled while the
job is active.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.forms import form_add_service_errors
from apps.core.htmx import no_store
from apps.redteam import selectors, services
from apps.redteam.forms import RedTeamForm
from apps.redteam.models import Candidate, CandidateKind, RedTeamJob
from apps.rubrics.diff import diff_rubrics

JOBS_PER_PAGE = 25
DETAIL_TEMPLATE = "redteam/detail.html"


class JobListView(ProjectAccessMixin, TemplateView):
    """Every red team of the project, newest first."""

    template_name = "redteam/list.html"
    required_capability = Capability.RUN_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        jobs = selectors.jobs_for_project(project=self.project)
        context["page"] = Paginator(jobs, JOBS_PER_PAGE).get_page(self.request.GET.get("page"))
        return context


class JobStartView(ProjectAccessMixin, TemplateView):
    """Start a red team (the version page links here with the version chosen)."""

    template_name = "redteam/start.html"
    required_capability = Capability.REDTEAM_START

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        initial = self.request.GET.dict()
        context["form"] = kwargs.get("form") or RedTeamForm(project=self.project, initial=initial)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = RedTeamForm(request.POST, project=self.project)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = services.redteam_start(
                    actor=request.user,
                    rubric_version=data["rubric_version"],
                    judge=data["judge"],
                    reference_set=data["reference_set"],
                    targets=data["targets"],
                    editor=data["editor"],
                    poison_feedback=bool(data.get("poison_feedback")),
                    benchmark_reference_set=data.get("benchmark_reference_set"),
                    generations=data["generations"],
                    population=data["population"],
                    children=data["children"],
                    sample_size=data["sample_size"],
                    max_judge_calls=data.get("max_judge_calls"),
                    cost_cap=data.get("cost_cap"),
                    benign_k=data["benign_k"],
                    seed=data["seed"],
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, f"Red team {job.pk} started.")
                return HttpResponseRedirect(
                    reverse("redteam:detail", kwargs={"project": self.project.slug, "job": job.pk})
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class JobMixin(ProjectAccessMixin):
    def get_job(self) -> RedTeamJob:
        return get_object_or_404(
            RedTeamJob.objects.select_related(
                "rubric_version__rubric",
                "judge",
                "editor",
                "reference_set",
                "draft_version",
                "best",
            ),
            pk=self.kwargs["job"],
            project=self.project,
        )


class JobDetailView(JobMixin, TemplateView):
    """A red team: progress (live), the frontier chart, the attack and its test-split report."""

    template_name = DETAIL_TEMPLATE
    required_capability = Capability.RUN_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.get_job()
        context.update(_detail_context(job))
        if job.best is not None:
            seed = job.rubric_version.to_spec()
            context["diff"] = diff_rubrics(
                seed, services.spec_from_content(job.best.spec)
            ).to_dict()
        context["candidates"] = Candidate.objects.filter(
            job=job, kind=CandidateKind.SEARCH, compliant=True
        ).order_by("-fitness", "generation", "index")[:20]
        context["benign"] = Candidate.objects.filter(job=job, kind=CandidateKind.BENIGN)
        report = (job.result.get("test") or {}).get("report") or {}
        context["domain_rows"] = sorted((report.get("by_domain") or {}).items())
        return context


def _detail_context(job: RedTeamJob) -> dict[str, Any]:
    return {
        "job": job,
        "progress": selectors.job_progress(job),
        "chart": selectors.job_chart(job),
        "line": selectors.robustness_line(job) if job.status == "succeeded" else "",
    }


class JobProgressView(JobMixin, View):
    """The progress panel alone (polled by htmx every second while the job is active)."""

    required_capability = Capability.RUN_VIEW

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from django.shortcuts import render

        job = self.get_job()
        context = {
            "project": self.project,
            "capabilities": self.capabilities,
            **_detail_context(job),
        }
        return no_store(render(request, f"{DETAIL_TEMPLATE}#progress", context))


class JobCancelView(JobMixin, View):
    """Ask a red team to stop; the step in flight finishes first."""

    required_capability = Capability.REDTEAM_START

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        job = self.get_job()
        try:
            services.job_cancel(actor=request.user, job=job)
        except services.JobNotActive as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, f"Red team {job.pk} is stopping.")
        return HttpResponseRedirect(
            reverse("redteam:detail", kwargs={"project": self.project.slug, "job": job.pk})
        )
