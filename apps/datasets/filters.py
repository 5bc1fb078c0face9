"""Filters shared by the pair pages and the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from apps.datasets.models import Pair, ReferenceItem, ReferenceSet


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
