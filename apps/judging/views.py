"""Pages of the judging app: runs (list, start, follow, results) and judge configs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.filters import filtered_rows
from apps.core.forms import form_add_service_errors, service_error_messages
from apps.core.htmx import is_partial_request, no_store, template_for
from apps.judging import check as checks
from apps.judging import judge_policy, selectors, services
from apps.judging.filters import RunJudgmentFilter, RunPageFilter
from apps.judging.forms import JudgeConfigForm, RunStartForm
from apps.judging.models import JudgeCheck, JudgeConfig, JudgingRun, Verdict

PAIRS_PER_PAGE = 50
JUDGMENTS_PER_PAGE = 100
# A run's reference set or dataset is the start form's one "target" choice.
TARGET_FIELDS = {"reference_set": "target", "dataset": "target"}
RUNS_PER_PAGE = 25


def _get_run(view: Any, pk: int) -> JudgingRun:
    return get_object_or_404(
        JudgingRun.objects.select_related(
            "judge", "rubric_version__rubric", "reference_set", "dataset", "created_by"
        ),
        pk=pk,
        project=view.project,
    )


class RunListView(ProjectAccessMixin, TemplateView):
    """The project's runs, newest first, filterable by status."""

    template_name = "judging/run_list.html"
    required_capability = Capability.RUN_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        runs = selectors.runs_for_project(project=self.project)
        run_filter = RunPageFilter(self.request.GET or None, queryset=runs, project=self.project)
        runs = filtered_rows(run_filter)
        page = Paginator(runs, RUNS_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            page=page,
            runs=[(run, selectors.run_progress(run)) for run in page.object_list],
            filter=run_filter,
            filtered=run_filter.is_bound and run_filter.form.has_changed(),
            can_start=Capability.RUN_START.value in self.capabilities,
        )
        return context


class RunStartView(ProjectAccessMixin, TemplateView):
    """Start a run: rubric version, judge, target; the cost estimate updates as they change."""

    template_name = "judging/run_start.html"
    required_capability = Capability.RUN_START

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = kwargs.get("form") or RunStartForm(
            project=self.project, initial=self.request.GET.dict()
        )
        context.update(form=form, estimate=None)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = RunStartForm(request.POST, project=self.project)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = services.run_start(
                    actor=request.user,
                    rubric_version=data["rubric_version"],
                    judge=data["judge"],
                    reference_set=data["reference_set"],
                    dataset=data["dataset"],
                    use_cache=bool(data.get("use_cache")),
                    check_override=data.get("check_override") or "",
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc, aliases=TARGET_FIELDS)
            else:
                messages.success(request, f"Run {run.pk} started: {run.total} judgments.")
                return HttpResponseRedirect(
                    reverse("judging:detail", kwargs={"project": self.project.slug, "run": run.pk})
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RunEstimateView(ProjectAccessMixin, View):
    """The start form's cost estimate (an htmx partial, refreshed when a field changes)."""

    required_capability = Capability.RUN_START

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = RunStartForm(request.GET, project=self.project)
        estimate = None
        if form.is_valid():
            data = form.cleaned_data
            estimate = selectors.run_estimate(
                rubric_version=data["rubric_version"],
                judge=data["judge"],
                reference_set=data["reference_set"],
                dataset=data["dataset"],
            )
        context = {"project": self.project, "estimate": estimate, "form": form}
        return no_store(render(request, "judging/run_start.html#estimate", context))


class RunDetailView(ProjectAccessMixin, TemplateView):
    """A run: live progress while it works; accuracy, failures and the pairs when it is done."""

    template_name = "judging/run_detail.html"
    required_capability = Capability.RUN_VIEW

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "pairs")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = _get_run(self, self.kwargs["run"])
        progress = selectors.run_progress(run)
        context.update(
            run=run,
            progress=progress,
            waiting=selectors.run_waiting(run),
            judge_label=services.judge_label(run.judge),
            can_start=Capability.RUN_START.value in self.capabilities,
        )
        if not is_partial_request(self.request):
            context["failures"] = selectors.run_failures(run)
            if run.is_finished:
                accuracy = selectors.run_accuracy(run)
                context["accuracy"] = accuracy
                context["domain_rows"] = sorted(accuracy["by_domain"].items())
        if run.is_finished or is_partial_request(self.request):
            context.update(self._pairs(run))
        return context

    def _pairs(self, run: JudgingRun) -> dict[str, Any]:
        params = self.request.GET
        filters = {
            "domain": params.get("domain", ""),
            "verdict": params.get("verdict", ""),
            "correctness": params.get("correctness", ""),
            "consistent": params.get("consistent", ""),
            "cached": params.get("cached", ""),
        }
        rows = selectors.run_pair_rows(run, **filters)
        page = Paginator(rows, PAIRS_PER_PAGE).get_page(params.get("page"))
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
        return {
            "pairs_page": page,
            "filters": filters,
            "filter_query": query,
            "domains": selectors.run_domains(run),
            "verdicts": Verdict.values,
            "correctness_values": selectors.CORRECTNESS,
        }


class JudgmentDetailView(ProjectAccessMixin, TemplateView):
    """One pair in one order of a run: the messages sent, the raw answer, the parsed verdict and
    how it was obtained, log-probabilities, tokens, latency, cost, cache and retries."""

    template_name = "judging/judgment_detail.html"
    required_capability = Capability.RUN_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = _get_run(self, self.kwargs["run"])
        evidence = selectors.judgment_evidence(
            run, pair_id=self.kwargs["pair"], order=self.kwargs["order"]
        )
        if evidence is None:
            raise Http404("This run has no judgment of that pair in that order.")
        context.update(run=run, evidence=evidence, judgment=evidence.judgment, pair=evidence.pair)
        return context


class RunJudgmentsView(ProjectAccessMixin, TemplateView):
    """A run's judgments one per row, with their totals: the page behind the run's Done, Failed,
    From cache, token and cost figures, each of which counts judgments (two a pair)."""

    template_name = "judging/run_judgments.html"
    required_capability = Capability.RUN_VIEW

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = _get_run(self, self.kwargs["run"])
        judgments = selectors.run_judgments(run)
        judgment_filter = RunJudgmentFilter(
            self.request.GET or None, queryset=judgments, domains=selectors.run_domains(run)
        )
        judgments = filtered_rows(judgment_filter)
        context.update(
            run=run,
            filter=judgment_filter,
            page=Paginator(judgments, JUDGMENTS_PER_PAGE).get_page(self.request.GET.get("page")),
            totals=selectors.judgment_totals(judgments, run),
        )
        return context


class RunProgressView(ProjectAccessMixin, View):
    """The polled progress partial; answers 286 (stop polling) once the run has ended."""

    required_capability = Capability.RUN_VIEW

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        run = _get_run(self, kwargs["run"])
        progress = selectors.run_progress(run)
        context = {
            "project": self.project,
            "run": run,
            "progress": progress,
            "waiting": selectors.run_waiting(run),
            "can_start": Capability.RUN_START.value in self.capabilities,
        }
        response = render(request, "judging/run_detail.html#progress", context)
        if progress.is_finished:
            # Stop polling and reload the page once, so the results appear.
            stop = HttpResponseStopPolling(response.content)
            stop["HX-Refresh"] = "true"
            return no_store(stop)
        return no_store(response)


class RunCancelView(ProjectAccessMixin, View):
    """Cancel a run (POST): chunks not started are skipped; finished judgments stay."""

    required_capability = Capability.RUN_START

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        run = _get_run(self, kwargs["run"])
        try:
            services.run_cancel(actor=request.user, run=run)
        except services.RunNotActive as exc:
            messages.warning(request, str(exc.detail))
        else:
            messages.success(request, f"Run {run.pk} cancelled.")
        url = reverse("judging:detail", kwargs={"project": self.project.slug, "run": run.pk})
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)


class RunResumeView(ProjectAccessMixin, View):
    """Resume a waiting run (POST): silent chunks are released and every pending one sent again."""

    required_capability = Capability.RUN_START

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        run = _get_run(self, kwargs["run"])
        try:
            count = services.run_resume(actor=request.user, run=run)
        except services.RunNotActive as exc:
            messages.warning(request, str(exc.detail))
        else:
            messages.success(request, f"Run {run.pk} resumed: {count} chunks sent again.")
        url = reverse("judging:detail", kwargs={"project": self.project.slug, "run": run.pk})
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)


class JudgeListView(ProjectAccessMixin, TemplateView):
    """The project's judge configs."""

    template_name = "judging/judge_list.html"
    required_capability = Capability.RUN_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["judges"] = [
            (
                judge,
                services.judge_label(judge),
                judge_policy.describe(judge),
                checks.judge_check_latest(judge),
            )
            for judge in selectors.judges_for_project(project=self.project)
        ]
        context["can_create"] = Capability.RUN_START.value in self.capabilities
        return context


class JudgeCreateView(ProjectAccessMixin, TemplateView):
    """Create a judge config (admins and authors)."""

    template_name = "judging/judge_form.html"
    required_capability = Capability.RUN_START

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or JudgeConfigForm(project=self.project)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = JudgeConfigForm(request.POST, project=self.project)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                judge = services.judge_config_create(
                    actor=request.user, project=self.project, **data
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, f"Judge {judge.name!r} created.")
                return HttpResponseRedirect(
                    reverse("judging:judges", kwargs={"project": self.project.slug})
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class JudgeCheckStartView(ProjectAccessMixin, View):
    """Check a judge (POST): the check runs on a worker; its page follows it."""

    required_capability = Capability.RUN_START

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        judge = get_object_or_404(JudgeConfig, pk=kwargs["judge"], project=self.project)
        check = checks.judge_check_start(actor=request.user, judge=judge)
        return HttpResponseRedirect(_check_url(self.project.slug, check))


def _check_url(slug: str, check: JudgeCheck) -> str:
    return reverse(
        "judging:check", kwargs={"project": slug, "judge": check.judge_id, "check": check.pk}
    )


class JudgeCheckDetailView(ProjectAccessMixin, TemplateView):
    """What a check found: figures, findings in words, recommendations to apply in one click."""

    template_name = "judging/judge_check.html"
    required_capability = Capability.RUN_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        check = get_object_or_404(
            JudgeCheck.objects.select_related("judge"),
            pk=self.kwargs["check"],
            judge_id=self.kwargs["judge"],
            project=self.project,
        )
        sanity = (check.metrics or {}).get("sanity") or {}
        context.update(
            check=check,
            judge=check.judge,
            judge_label=services.judge_label(check.judge),
            sanity=sanity,
            # Checks stored before the answers were kept have none: their figures link nowhere.
            answer_pairs=checks.sanity_answer_pairs(sanity.get("answers")),
            support=sorted(((check.metrics or {}).get("support") or {}).items()),
            history=checks.checks_for_judge(check.judge),
            can_start=Capability.RUN_START.value in self.capabilities,
        )
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return no_store(super().get(request, *args, **kwargs))


class JudgeCheckApplyView(ProjectAccessMixin, View):
    """Apply a check's recommendations (POST), then check the judge again."""

    required_capability = Capability.RUN_START

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        check = get_object_or_404(
            JudgeCheck, pk=kwargs["check"], judge_id=kwargs["judge"], project=self.project
        )
        try:
            judge = checks.judge_check_apply(actor=request.user, check=check)
        except ValidationError as exc:
            for problem in service_error_messages(exc):
                messages.error(request, problem)
            return HttpResponseRedirect(_check_url(self.project.slug, check))
        messages.success(request, f"Recommendations applied to {judge.name}; checking again.")
        again = checks.judge_check_start(actor=request.user, judge=judge)
        return HttpResponseRedirect(_check_url(self.project.slug, again))
