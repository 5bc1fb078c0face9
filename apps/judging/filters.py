"""Filters shared by the judging API and pages."""

from __future__ import annotations

import django_filters

from apps.judging.models import JudgingRun, Judgment, JudgmentStatus, RunStatus, Verdict


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
