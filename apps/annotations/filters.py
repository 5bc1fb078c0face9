"""The filter bars of a queue's labels and pairs pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from apps.annotations import selectors
from apps.annotations.models import Annotation, AnnotationQueue
from apps.core.filters import PageFilterMixin
from apps.datasets.models import GoldLabel, Pair


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


# The ``labels`` filter: a pair with all ``overlap`` of its labels in, or not yet.
COMPLETE, INCOMPLETE = "complete", "incomplete"

PAIR_STATE_CHOICES = [
    (selectors.PairState.CONSENSUS, "Consensus"),
    (selectors.PairState.DISPUTED, "Disputed"),
    (selectors.PairState.ADJUDICATED, "Adjudicated"),
    (selectors.PairState.PENDING, "Incomplete"),
]


class QueuePairFilter(PageFilterMixin, filters.FilterSet):
    """A queue's pairs by their state (as the queue page counts them), whether all their labels
    are in (the queue page's Complete pairs) and domain.

    ``votes`` is the queue's ``selectors.queue_votes``, computed once by the page and shared with
    its rows.
    """

    state = filters.ChoiceFilter(
        choices=PAIR_STATE_CHOICES, label="State", empty_label="any", method="filter_state"
    )
    labels = filters.ChoiceFilter(
        choices=[(COMPLETE, "all in"), (INCOMPLETE, "some missing")],
        label="Labels",
        empty_label="any",
        method="filter_labels",
    )
    domain = filters.ChoiceFilter(label="Domain", empty_label="all")

    class Meta:
        model = Pair
        fields = ["state", "labels", "domain"]

    def __init__(
        self,
        *args: Any,
        queue: AnnotationQueue,
        votes: dict[int, selectors.PairVotes],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.queue, self.votes = queue, votes
        domains = sorted(set(selectors.queue_pairs(queue=queue).values_list("domain", flat=True)))
        self.filters["domain"].extra["choices"] = [(d, d or "(none)") for d in domains]

    def filter_state(self, queryset: QuerySet[Pair], name: str, value: str) -> QuerySet[Pair]:
        in_state = selectors.pairs_in_state(queue=self.queue, state=value, votes=self.votes)
        return queryset.filter(pk__in=in_state.values("pk"))

    def filter_labels(self, queryset: QuerySet[Pair], name: str, value: str) -> QuerySet[Pair]:
        complete = selectors.complete_pairs(queue=self.queue).values("pk")
        if value == COMPLETE:
            return queryset.filter(pk__in=complete)
        return queryset.exclude(pk__in=complete)
