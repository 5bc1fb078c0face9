"""Filters shared by the drift API and pages."""

from __future__ import annotations

from typing import Any

import django_filters

from apps.accounts.models import Project
from apps.core.filters import PageFilterMixin
from apps.drift.models import AlertStatus, DriftAlert, DriftReport, ReportStatus, Severity
from apps.rubrics.models import Rubric, RubricVersion


class AlertFilter(django_filters.FilterSet):
    """Alerts by status, severity, rubric or version (the inbox and ``/api/alerts/``).

    The rubric and version choices are limited to ``project`` (the inbox) or to the caller's
    projects (the API), so a filter form never lists another project's rubrics.
    """

    status = django_filters.ChoiceFilter(choices=AlertStatus.choices, empty_label="any status")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="any severity")
    rubric = django_filters.ModelChoiceFilter(
        queryset=Rubric.objects.none(), empty_label="any rubric"
    )
    version = django_filters.ModelChoiceFilter(queryset=RubricVersion.objects.none())

    class Meta:
        model = DriftAlert
        fields = ["status", "severity", "rubric", "version"]

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if project is not None:
            projects: Any = [project.pk]
        elif self.request is not None:
            projects = Project.objects.for_user(self.request.user)
        else:
            projects = []
        self.filters["rubric"].queryset = Rubric.objects.filter(project__in=projects)
        self.filters["version"].queryset = RubricVersion.objects.filter(
            rubric__project__in=projects
        )


class ReportFilter(django_filters.FilterSet):
    """Reports by status, rubric, version, run or reference set (ids)."""

    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)
    rubric = django_filters.NumberFilter(field_name="rubric_id")
    candidate_version = django_filters.NumberFilter(field_name="candidate_version_id")
    baseline_version = django_filters.NumberFilter(field_name="baseline_version_id")
    baseline_run = django_filters.NumberFilter(field_name="baseline_run_id")
    candidate_run = django_filters.NumberFilter(field_name="candidate_run_id")
    reference_set = django_filters.NumberFilter(field_name="reference_set_id")

    class Meta:
        model = DriftReport
        fields = ["status"]


class ReportPageFilter(PageFilterMixin, django_filters.FilterSet):
    """The reports page's filter bar: the report's status (``pending``: checks still running)."""

    status = django_filters.ChoiceFilter(choices=ReportStatus.choices, empty_label="any status")

    class Meta:
        model = DriftReport
        fields = ["status"]
