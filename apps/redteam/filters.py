"""The filter bars of a red team's spend ledger and candidates pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from apps.core.filters import YES_NO, PageFilterMixin
from apps.redteam.models import Candidate, CandidateKind, RedTeamJob, SpendEntry, SpendKind, Split


class SpendFilter(PageFilterMixin, filters.FilterSet):
    """A job's ledger entries by kind (judge or editor), step, split and whether any of the
    entry's calls came from the judging cache. The step choices are the job's own steps."""

    kind = filters.ChoiceFilter(choices=SpendKind.choices, label="Kind", empty_label="any")
    step = filters.ChoiceFilter(label="Step", empty_label="any step")
    split = filters.ChoiceFilter(choices=Split.choices, label="Split", empty_label="any")
    cached = filters.ChoiceFilter(
        choices=YES_NO, label="From cache", empty_label="either", method="filter_cached"
    )

    class Meta:
        model = SpendEntry
        fields = ["kind", "step", "split", "cached"]

    def __init__(self, *args: Any, job: RedTeamJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        steps = set(SpendEntry.objects.filter(job=job).values_list("step", flat=True).distinct())
        self.filters["step"].extra["choices"] = [(s, s) for s in sorted(steps, key=_step_order)]

    def filter_cached(
        self, queryset: QuerySet[SpendEntry], name: str, value: str
    ) -> QuerySet[SpendEntry]:
        if value == "yes":
            return queryset.filter(cached_calls__gt=0)
        return queryset.filter(cached_calls=0)


def _step_order(step: str) -> tuple[int, int, str]:
    """The job's order of steps: the generations by number, then selection, then the report."""
    head, _, number = step.partition(" ")
    if head == "generation" and number.isdigit():
        return (0, int(number), step)
    return (1, 0 if step == "selection" else 1, step)


class CandidateFilter(PageFilterMixin, filters.FilterSet):
    """A job's candidates by kind, generation and benchmark compliance.

    The kind ``searched`` is the seed and the search candidates: what the job's Candidates
    figure counts (benign paraphrases are judged on val only and not counted there).
    """

    SEARCHED = "searched"

    kind = filters.ChoiceFilter(
        choices=[(SEARCHED, "seed and search candidates"), *CandidateKind.choices],
        label="Kind",
        empty_label="any",
        method="filter_kind",
    )
    generation = filters.ChoiceFilter(label="Generation", empty_label="any")
    compliant = filters.ChoiceFilter(
        choices=YES_NO, label="Compliant", empty_label="either", method="filter_compliant"
    )

    class Meta:
        model = Candidate
        fields = ["kind", "generation", "compliant"]

    def __init__(self, *args: Any, job: RedTeamJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        generations = sorted(
            set(Candidate.objects.filter(job=job).values_list("generation", flat=True))
        )
        self.filters["generation"].extra["choices"] = [(g, str(g)) for g in generations]

    def filter_kind(
        self, queryset: QuerySet[Candidate], name: str, value: str
    ) -> QuerySet[Candidate]:
        if value == self.SEARCHED:
            return queryset.exclude(kind=CandidateKind.BENIGN)
        return queryset.filter(kind=value)

    def filter_compliant(
        self, queryset: QuerySet[Candidate], name: str, value: str
    ) -> QuerySet[Candidate]:
        return queryset.filter(compliant=value == "yes")
