"""The pairs page of a queue: each pair's state, votes and label, behind the queue page's
Consensus, Disputed and Adjudicated figures."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability
from apps.annotations import selectors
from apps.annotations.filters import QueuePairFilter
from apps.annotations.views import QueueMixin
from apps.core.filters import filtered_rows
from apps.core.htmx import template_for

PAIRS_PER_PAGE = 50


class QueuePairsView(QueueMixin, TemplateView):
    """For admins: the queue's pairs one per row, filtered by state or domain; the state counts
    of the queue page open this list."""

    template_name = "annotations/pairs.html"
    required_capability = Capability.QUEUE_MANAGE

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        queue = self.get_queue()
        votes = selectors.queue_votes(queue=queue)
        pairs = selectors.queue_pairs(queue=queue).order_by("pk")
        pair_filter = QueuePairFilter(
            self.request.GET or None, queryset=pairs, queue=queue, votes=votes
        )
        pairs = filtered_rows(pair_filter)
        page = Paginator(pairs, PAIRS_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            queue=queue,
            filter=pair_filter,
            page=page,
            rows=selectors.pair_rows(pairs=page.object_list, votes=votes),
        )
        return context
