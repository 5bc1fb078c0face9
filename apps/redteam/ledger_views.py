"""The rows behind a red team's figures: its spend ledger, its candidates, and one candidate
(its edit against the seed, what it cost, its verdict on every pair it was judged on)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability
from apps.core.filters import filtered_rows
from apps.core.htmx import template_for
from apps.redteam import selectors, services
from apps.redteam.filters import CandidateFilter, SpendFilter
from apps.redteam.models import Candidate, CandidateKind
from apps.redteam.views import JobMixin
from apps.rubrics.diff import diff_rubrics

ENTRIES_PER_PAGE = 50
CANDIDATES_PER_PAGE = 50
VERDICTS_PER_PAGE = 50


class _FilteredListView(JobMixin, TemplateView):
    """A filtered, paginated list of a job's rows whose results are an htmx partial."""

    required_capability = Capability.RUN_VIEW
    template_name: str

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "results")]


class SpendView(_FilteredListView):
    """The job's spend ledger: one row per charge on its budget, filtered by kind, step, split
    or cache; the totals line adds up the filtered rows. The job's Judge calls, From cache,
    Editor calls and Cost figures open this page."""

    template_name = "redteam/spend.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.get_job()
        entries = selectors.spend_entries(job=job)
        everything = selectors.spend_totals(entries)
        spend_filter = SpendFilter(self.request.GET or None, queryset=entries, job=job)
        entries = filtered_rows(spend_filter)
        context.update(
            job=job,
            filter=spend_filter,
            page=Paginator(entries, ENTRIES_PER_PAGE).get_page(self.request.GET.get("page")),
            totals=selectors.spend_totals(entries),
            ledger_matches=selectors.ledger_matches(job, everything),
        )
        return context


class CandidatesView(_FilteredListView):
    """Every candidate of the job (the seed, search children, benign paraphrases), filtered by
    kind, generation or compliance. The job's Candidates figure opens this page."""

    template_name = "redteam/candidates.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.get_job()
        candidates = selectors.job_candidates(job=job)
        candidate_filter = CandidateFilter(self.request.GET or None, queryset=candidates, job=job)
        candidates = filtered_rows(candidate_filter)
        context.update(
            job=job,
            filter=candidate_filter,
            page=Paginator(candidates, CANDIDATES_PER_PAGE).get_page(self.request.GET.get("page")),
        )
        return context


class CandidateView(JobMixin, TemplateView):
    """One candidate: its edit and spec against the seed, its spend, its verdict on each pair
    (with the pair's gold label), the verdicts paginated as an htmx partial."""

    template_name = "redteam/candidate.html"
    required_capability = Capability.RUN_VIEW

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "verdicts")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.get_job()
        candidate = get_object_or_404(
            Candidate.objects.select_related("parent"), pk=self.kwargs["candidate"], job=job
        )
        page = Paginator(selectors.candidate_verdicts(candidate=candidate), VERDICTS_PER_PAGE)
        verdicts = page.get_page(self.request.GET.get("page"))
        context.update(
            job=job,
            candidate=candidate,
            verdicts=verdicts,
            verdict_rows=selectors.verdicts_with_gold(job=job, verdicts=list(verdicts)),
        )
        if candidate.kind != CandidateKind.SEED:
            context["diff"] = diff_rubrics(
                job.rubric_version.to_spec(), services.spec_from_content(candidate.spec)
            ).to_dict()
        entries = selectors.spend_entries(job=job).filter(candidate=candidate)
        context.update(entries=entries, totals=selectors.spend_totals(entries))
        return context
