"""What the filter bars of the pages share."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import FilterSet

# The choices of a yes/no filter in a filter bar (a boolean read from the query as "yes" or "no").
YES_NO = [("yes", "yes"), ("no", "no")]


class PageFilterMixin:
    """For a FilterSet shown in a page's filter bar (templates/includes/filter_bar.html).

    Its fields get ids ``filter-<name>``, so they never collide with a form of the same page
    (a dataset page has both a ``domain`` filter and an upload form with a ``domain`` field).
    """

    @property
    def form(self) -> Any:
        form = super().form  # type: ignore[misc]
        form.auto_id = "filter-%s"
        return form


def filtered_rows(filter_set: FilterSet) -> QuerySet[Any]:
    """The rows a page's filter bar selects: every row until the bar is used, and every row when
    a value is invalid (the bar's form then says which)."""
    if filter_set.is_bound and filter_set.is_valid():
        return filter_set.qs
    return filter_set.queryset
