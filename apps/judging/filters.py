"""Filters shared by the judging API and pages."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from apps.accounts.models import Project
from apps.core.filters import YES_NO, PageFilterMixin
from apps.judging.models import (
    ACTIVE_RUN_STATUSES,
    JudgeConfig,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunStatus,
    Verdict,
)


class RunFilter(django_filters.FilterSet):
    """Runs by status, rubric version, judge or target."""

    status = django_filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = JudgingRun
        fields = ["project", "status", "rubric_version", "judge", "reference_set", "dataset"]


class JudgmentFilter(django_filters.FilterSet):
    """A run's judgments by shown order, verdict, status, domain or pair."""

    order = django_filters.ChoiceFilter(choices=[("AB", "AB"), ("BA", "BA")])
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)
    status = django_filters.ChoiceFilter(choices=JudgmentStatus.choices)
    domain = django_filters.CharFilter(field_name="pair__domain")
    cached = django_filters.BooleanFilter()

    class Meta:
        model = Judgment
        fields = ["order", "verdict", "status", "pair", "cached"]


class RunPageFilter(PageFilterMixin, django_filters.FilterSet):
    """The runs page's filter bar: status and judge, the judges limited to the page's project.

    The status ``active`` (queued or running) lists the runs the dashboard counts as active.
    """

    ACTIVE = "active"

    status = django_filters.ChoiceFilter(
        choices=[(ACTIVE, "active (queued or running)"), *RunStatus.choices],
        empty_label="any status",
        method="filter_status",
    )
    judge = django_filters.ModelChoiceFilter(
        queryset=JudgeConfig.objects.none(), empty_label="any judge"
    )

    class Meta:
        model = JudgingRun
        fields = ["status", "judge"]

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["judge"].queryset = JudgeConfig.objects.filter(project=project).order_by(
            "name"
        )

    def filter_status(
        self, queryset: QuerySet[JudgingRun], name: str, value: str
    ) -> QuerySet[JudgingRun]:
        if value == self.ACTIVE:
            return queryset.filter(status__in=ACTIVE_RUN_STATUSES)
        return queryset.filter(status=value)


class RunJudgmentFilter(PageFilterMixin, django_filters.FilterSet):
    """The filter bar of a run's judgments page: the run page's figures open it filtered to the
    judgments they count (status done or failed, read from the cache or asked afresh)."""

    status = django_filters.ChoiceFilter(
        choices=[(JudgmentStatus.DONE, "done"), (JudgmentStatus.FAILED, "failed")],
        empty_label="any status",
    )
    cached = django_filters.ChoiceFilter(
        choices=YES_NO, label="From cache", empty_label="any", method="filter_cached"
    )
    order = django_filters.ChoiceFilter(
        choices=[("AB", "A,B"), ("BA", "B,A")], label="Order", empty_label="both"
    )
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices, empty_label="any verdict")
    domain = django_filters.ChoiceFilter(
        field_name="pair__domain", label="Domain", empty_label="all"
    )

    class Meta:
        model = Judgment
        fields = ["status", "cached", "order", "verdict", "domain"]

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["domain"].extra["choices"] = [(d, d or "(none)") for d in domains]

    def filter_cached(
        self, queryset: QuerySet[Judgment], name: str, value: str
    ) -> QuerySet[Judgment]:
        return queryset.filter(cached=value == "yes")
