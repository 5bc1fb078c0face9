"""Filters shared by the pair pages and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from apps.accounts.models import Project
from apps.core.filters import PageFilterMixin
from apps.datasets.models import Dataset, GoldLabel, Pair, ReferenceItem, ReferenceSet


class PairFilter(filters.FilterSet):
    """``dataset`` (id), ``domain`` (exact), ``label`` and ``q`` (text in the prompt or id)."""

    dataset = filters.NumberFilter(field_name="dataset_id")
    domain = filters.CharFilter(field_name="domain")
    label = filters.CharFilter(method="filter_label")
    q = filters.CharFilter(method="filter_text")

    class Meta:
        model = Pair
        fields = ["dataset", "domain"]

    def filter_label(self, queryset: QuerySet[Pair], name: str, value: str) -> QuerySet[Pair]:
        """``none`` for pairs without a gold label, else the label itself."""
        if value == "none":
            return queryset.filter(gold_label__isnull=True)
        return queryset.filter(gold_label=value)

    def filter_text(self, queryset: QuerySet[Pair], name: str, value: str) -> QuerySet[Pair]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(prompt__icontains=value) | Q(external_id=value))


class ReferenceSetFilter(filters.FilterSet):
    """``name``, ``dataset`` (id) and ``project`` (id)."""

    dataset = filters.NumberFilter(field_name="dataset_id")
    project = filters.NumberFilter(field_name="project_id")

    class Meta:
        model = ReferenceSet
        fields = ["name", "dataset", "project"]


class ReferenceItemFilter(filters.FilterSet):
    """Items of a snapshot by the pair's ``domain`` or by ``gold_label``."""

    domain = filters.CharFilter(field_name="pair__domain")
    gold_label = filters.CharFilter(field_name="gold_label")

    class Meta:
        model = ReferenceItem
        fields = ["domain", "gold_label"]


# --- the filter bars of the pages (labels for people; choices limited to the page's project) ---


class DatasetPageFilter(PageFilterMixin, filters.FilterSet):
    """The datasets page: name contains."""

    name = filters.CharFilter(
        lookup_expr="icontains",
        label="Name",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "part of a name"}),
    )

    class Meta:
        model = Dataset
        fields = ["name"]


class ReferenceSetPageFilter(PageFilterMixin, filters.FilterSet):
    """The reference sets page: name contains, source dataset (of the project)."""

    name = filters.CharFilter(
        lookup_expr="icontains",
        label="Name",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "part of a name"}),
    )
    dataset = filters.ModelChoiceFilter(
        queryset=Dataset.objects.none(), label="Dataset", empty_label="any dataset"
    )

    class Meta:
        model = ReferenceSet
        fields = ["name", "dataset"]

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["dataset"].queryset = Dataset.objects.filter(project=project).order_by("name")


class PairPageFilter(PageFilterMixin, PairFilter):
    """A dataset page's pairs: domain (of the dataset), gold label, text."""

    LABEL_CHOICES = [*GoldLabel.choices, ("none", "none")]

    dataset = None  # the page is one dataset's already

    domain = filters.ChoiceFilter(field_name="domain", label="Domain", empty_label="all domains")
    label = filters.ChoiceFilter(
        method="filter_label", label="Gold", choices=LABEL_CHOICES, empty_label="any"
    )
    q = filters.CharFilter(
        method="filter_text",
        label="Text",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "in the prompt, or an id"}),
    )

    class Meta:
        model = Pair
        fields = ["domain", "label", "q"]

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["domain"].extra["choices"] = [(d, d) for d in domains]
