"""Filters shared by the judging API and pages."""

from __future__ import annotations

from typing import Any

import django_filters

from apps.accounts.models import Project
from apps.core.filters import PageFilterMixin
from apps.judging.models import (
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
    """The runs page's filter bar: status and judge, the judges limited to the page's project."""

    status = django_filters.ChoiceFilter(choices=RunStatus.choices, empty_label="any status")
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
