"""The filter bar of a queue's labels page."""

from __future__ import annotations

from typing import Any

from django_filters import rest_framework as filters

from apps.annotations.models import Annotation, AnnotationQueue
from apps.core.filters import PageFilterMixin
from apps.datasets.models import GoldLabel


class QueueLabelFilter(PageFilterMixin, filters.FilterSet):
    """A queue's labels by annotator (username), label and the pair's domain.

    The annotator and domain choices are those of the queue's labels, so a removed annotator's
    labels stay reachable.
    """

    annotator = filters.ChoiceFilter(
        field_name="annotator__username", label="Annotator", empty_label="any annotator"
    )
    choice = filters.ChoiceFilter(choices=GoldLabel.choices, label="Label", empty_label="any")
    domain = filters.ChoiceFilter(field_name="pair__domain", label="Domain", empty_label="all")

    class Meta:
        model = Annotation
        fields = ["annotator", "choice", "domain"]

    def __init__(self, *args: Any, queue: AnnotationQueue, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = Annotation.objects.filter(queue=queue).order_by()
        usernames = sorted(set(labels.values_list("annotator__username", flat=True)))
        domains = sorted(set(labels.values_list("pair__domain", flat=True)))
        self.filters["annotator"].extra["choices"] = [(name, name) for name in usernames]
        self.filters["domain"].extra["choices"] = [(d, d or "(none)") for d in domains]
