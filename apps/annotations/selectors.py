"""Reads of the annotations app: queue scope, hand-out order, progress, consensus, agreement."""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, QuerySet, Value

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, has_capability
from apps.annotations import agreement
from apps.annotations.models import (
    Adjudication,
    Annotation,
    AnnotationQueue,
    Assignment,
    AssignmentStatus,
)
from apps.datasets.models import Dataset, Pair

# Assignments that hold a slot of their pair (a skipped one gave its slot back).
LIVE = (AssignmentStatus.ASSIGNED, AssignmentStatus.DONE)

# Pair metadata an annotator may see. Everything else stays hidden: importers keep the source's
# own labels (PandaLM's ``labels``), model names (``cmp_key``) and the like in metadata, and any
# of those would tell the annotator what others chose or which model wrote which response.
ANNOTATOR_METADATA_KEYS = ("turns",)

# The Mersenne prime 2^31 - 1: ``(id * a + b) mod p`` with 0 < a < p is a permutation of the ids
# below p, so it gives every queue its own stable shuffled order. It is computed in SQL (rather
# than with random.shuffle over every id) so the database can sort and LIMIT without sending the
# whole scope to Python on every request; the products stay below 2^62, inside a signed bigint.
_SHUFFLE_PRIME = 2_147_483_647


def queue_pairs(*, queue: AnnotationQueue) -> QuerySet[Pair]:
    """The pairs the queue labels: its dataset's pairs, limited to its domains when it has any."""
    pairs = Pair.objects.filter(dataset_id=queue.dataset_id)
    if queue.domains:
        pairs = pairs.filter(domain__in=queue.domains)
    return pairs


def _shuffle_coefficients(queue_id: int) -> tuple[int, int]:
    digest = hashlib.sha256(f"annotation-queue:{queue_id}".encode()).digest()
    multiplier = int.from_bytes(digest[:8], "big") % (_SHUFFLE_PRIME - 1) + 1
    offset = int.from_bytes(digest[8:16], "big") % _SHUFFLE_PRIME
    return multiplier, offset


def shuffled(pairs: QuerySet[Pair], *, queue: AnnotationQueue) -> QuerySet[Pair]:
    """``pairs`` in the queue's own stable, shuffled order (seeded by the queue id)."""
    multiplier, offset = _shuffle_coefficients(queue.pk)
    prime = Value(_SHUFFLE_PRIME)
    key = ExpressionWrapper(
        ((F("id") % prime) * Value(multiplier) + Value(offset)) % prime,
        output_field=BigIntegerField(),
    )
    return pairs.annotate(handout_order=key).order_by("handout_order", "id")


def available_pairs(*, queue: AnnotationQueue, annotator: Any) -> QuerySet[Pair]:
    """Pairs ``annotator`` could be handed next, in the queue's hand-out order.

    A pair is available when it still has a free slot (fewer than ``overlap`` live assignments)
    and the annotator has never been assigned it (labelled, skipped or open).
    """
    # Two uncorrelated subqueries (the database hashes each once) rather than a count per
    # pair: the cost then grows with the queue's assignments, not with pairs x assignments.
    seen = Assignment.objects.filter(queue=queue, annotator=annotator).values("pair_id")
    full = (
        Assignment.objects.filter(queue=queue, status__in=LIVE)
        .values("pair_id")
        .annotate(n=Count("id"))
        .filter(n__gte=queue.overlap)
        .values("pair_id")
    )
    pairs = queue_pairs(queue=queue).exclude(pk__in=seen).exclude(pk__in=full)
    return shuffled(pairs, queue=queue)


def open_assignment(*, queue: AnnotationQueue, annotator: Any) -> Assignment | None:
    """The pair on the annotator's screen in this queue, if any."""
    return (
        Assignment.objects.filter(
            queue=queue, annotator=annotator, status=AssignmentStatus.ASSIGNED
        )
        .select_related("pair")
        .order_by("-assigned_at", "-id")
        .first()
    )


def is_assigned(*, queue: AnnotationQueue, user: Any) -> bool:
    """Whether ``user`` is one of the queue's annotators."""
    return queue.annotators.filter(pk=user.pk).exists()


def can_manage(*, queue: AnnotationQueue, user: Any) -> bool:
    """Whether ``user`` administers the queue's project (sees every label, adjudicates)."""
    return has_capability(user, queue.project, Capability.QUEUE_MANAGE)


def annotator_progress(*, queue: AnnotationQueue, annotator: Any) -> dict[str, int]:
    """``done``: pairs the annotator labelled; ``total``: done + open + still available to them.

    The total shrinks as other annotators fill the slots of pairs this one has not reached.
    """
    counts = Counter(
        Assignment.objects.filter(queue=queue, annotator=annotator)
        .values_list("status", flat=True)
        .order_by()
    )
    done = counts[AssignmentStatus.DONE]
    available = available_pairs(queue=queue, annotator=annotator).count()
    return {
        "done": done,
        "total": done + counts[AssignmentStatus.ASSIGNED] + available,
        "skipped": counts[AssignmentStatus.SKIPPED],
    }


def complete_pairs(*, queue: AnnotationQueue) -> QuerySet[Pair]:
    """The queue's pairs with all ``overlap`` of their labels in, as ``queues_progress`` counts
    its ``complete_pairs``: by the done assignments of each pair."""
    labelled = (
        Assignment.objects.filter(queue=queue, status=AssignmentStatus.DONE)
        .values("pair_id")
        .annotate(n=Count("id"))
        .filter(n__gte=queue.overlap)
        .values("pair_id")
    )
    return queue_pairs(queue=queue).filter(pk__in=labelled)


def queue_progress(*, queue: AnnotationQueue) -> dict[str, int]:
    """Labels done and needed (pairs x overlap), and pairs with all their labels."""
    return queues_progress(queues=[queue])[queue.pk]


def queues_progress(*, queues: Iterable[AnnotationQueue]) -> dict[int, dict[str, int]]:
    """``queue_progress`` of many queues in two queries (a list page or API page of queues)."""
    queues = list(queues)
    pairs_by_domain: dict[int, Counter[str]] = defaultdict(Counter)
    for row in (
        Pair.objects.filter(dataset_id__in={queue.dataset_id for queue in queues})
        .values("dataset_id", "domain")
        .annotate(n=Count("id"))
        .order_by()
    ):
        pairs_by_domain[row["dataset_id"]][row["domain"]] += row["n"]
    done: dict[int, list[int]] = defaultdict(list)  # queue id -> labels per labelled pair
    for labelled in (
        Assignment.objects.filter(queue__in=queues, status=AssignmentStatus.DONE)
        .values("queue_id", "pair_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        done[labelled["queue_id"]].append(labelled["n"])
    progress = {}
    for queue in queues:
        counts = pairs_by_domain[queue.dataset_id]
        pairs = sum(counts[d] for d in queue.domains) if queue.domains else counts.total()
        progress[queue.pk] = {
            "pairs": pairs,
            "labels_done": sum(done[queue.pk]),
            "labels_needed": pairs * queue.overlap,
            "complete_pairs": sum(n >= queue.overlap for n in done[queue.pk]),
        }
    return progress


def queues_visible_to(*, project: Project, user: Any) -> QuerySet[AnnotationQueue]:
    """All the project's queues for its admins; the queues they are assigned to for others."""
    queues = AnnotationQueue.objects.filter(project=project).select_related(
        "dataset", "rubric_version__rubric"
    )
    if has_capability(user, project, Capability.QUEUE_MANAGE):
        return queues
    return queues.filter(annotators=user)


def queues_assigned_to(*, project: Project, user: Any) -> list[AnnotationQueue]:
    """The queues ``user`` labels in, each with ``progress`` for that user."""
    queues = list(
        AnnotationQueue.objects.filter(project=project, annotators=user)
        .select_related("dataset", "rubric_version__rubric")
        .order_by("-created_at")
    )
    for queue in queues:
        queue.progress = annotator_progress(queue=queue, annotator=user)  # type: ignore[attr-defined]
    return queues


def annotator_payload_metadata(pair: Pair) -> dict[str, Any]:
    """The part of a pair's metadata an annotator may see (see ``ANNOTATOR_METADATA_KEYS``)."""
    if not isinstance(pair.metadata, dict):
        return {}
    return {key: pair.metadata[key] for key in ANNOTATOR_METADATA_KEYS if key in pair.metadata}


# --- consensus and adjudication ---------------------------------------------------------------


class PairState:
    """Where a pair of a queue stands on its way to a trusted label."""

    PENDING = "pending"  # fewer labels than the queue's overlap
    CONSENSUS = "consensus"
    DISPUTED = "disputed"  # all labels in, no consensus, no adjudication yet
    ADJUDICATED = "adjudicated"


@dataclass
class PairVotes:
    """The labels of one pair in a queue, its consensus and its adjudication."""

    pair_id: int
    domain: str
    votes: list[tuple[str, str]] = field(default_factory=list)  # (annotator, label)
    consensus: str | None = None
    adjudication: Adjudication | None = None
    state: str = PairState.PENDING
    pair: Pair | None = None

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter(label for _, label in self.votes)
        return {label: tally[label] for label in agreement.LABELS}

    @property
    def final_label(self) -> str | None:
        if self.adjudication is not None:
            return self.adjudication.label
        return self.consensus

    @property
    def source(self) -> str | None:
        if self.adjudication is not None:
            return PairState.ADJUDICATED
        return PairState.CONSENSUS if self.consensus is not None else None


def queue_votes(*, queue: AnnotationQueue, with_pairs: bool = False) -> dict[int, PairVotes]:
    """Every pair of the queue that has labels or an adjudication, keyed by pair id.

    Consensus (see ``agreement.consensus``) is only called once a pair has all ``overlap`` of its
    labels, so an early majority cannot settle a pair whose remaining labels might disagree.
    """
    rows: dict[int, PairVotes] = {}
    annotations = (
        Annotation.objects.filter(queue=queue)
        .order_by("pair_id", "created_at", "id")
        .values_list("pair_id", "pair__domain", "annotator__username", "choice")
    )
    for pair_id, domain, username, choice in annotations:
        row = rows.get(pair_id)
        if row is None:
            row = rows[pair_id] = PairVotes(pair_id=pair_id, domain=domain)
        row.votes.append((username, choice))
    for adjudication in Adjudication.objects.filter(queue=queue).select_related(
        "decided_by", "pair"
    ):
        row = rows.get(adjudication.pair_id)
        if row is None:
            row = rows[adjudication.pair_id] = PairVotes(
                pair_id=adjudication.pair_id, domain=adjudication.pair.domain
            )
        row.adjudication = adjudication
    for row in rows.values():
        labels = [label for _, label in row.votes]
        row.consensus = agreement.consensus(labels, queue.min_agreement, min_labels=queue.overlap)
        if row.adjudication is not None:
            row.state = PairState.ADJUDICATED
        elif row.consensus is not None:
            row.state = PairState.CONSENSUS
        elif len(labels) >= queue.overlap:
            row.state = PairState.DISPUTED
    if with_pairs and rows:
        pairs = Pair.objects.in_bulk(list(rows))
        for pair_id, row in rows.items():
            row.pair = pairs.get(pair_id)
    return rows


def queue_final_labels(*, queue: AnnotationQueue) -> dict[int, tuple[str, str]]:
    """{pair id: (label, "consensus" | "adjudicated")}; pairs with neither are left out."""
    labels: dict[int, tuple[str, str]] = {}
    for pair_id, row in queue_votes(queue=queue).items():
        label, source = row.final_label, row.source
        if label is not None and source is not None:
            labels[pair_id] = (label, source)
    return labels


def adjudication_rows(*, queue: AnnotationQueue) -> list[PairVotes]:
    """Pairs that need an admin's label (disputed) first, then those already adjudicated."""
    rows = [
        row
        for row in queue_votes(queue=queue, with_pairs=True).values()
        if row.state in (PairState.DISPUTED, PairState.ADJUDICATED)
    ]
    rows.sort(key=lambda row: (row.state != PairState.DISPUTED, row.pair_id))
    return rows


def consensus_summary(*, queue: AnnotationQueue) -> dict[str, int]:
    """How many pairs are pending, settled by consensus, disputed, adjudicated."""
    counts = Counter(row.state for row in queue_votes(queue=queue).values())
    labelled = sum(counts.values())
    pending_unlabelled = max(queue_pairs(queue=queue).count() - labelled, 0)
    return {
        PairState.PENDING: counts[PairState.PENDING] + pending_unlabelled,
        PairState.CONSENSUS: counts[PairState.CONSENSUS],
        PairState.DISPUTED: counts[PairState.DISPUTED],
        PairState.ADJUDICATED: counts[PairState.ADJUDICATED],
    }


def pairs_in_state(
    *, queue: AnnotationQueue, state: str, votes: dict[int, PairVotes] | None = None
) -> QuerySet[Pair]:
    """The queue's pairs in ``state``, decided by ``queue_votes`` as ``consensus_summary`` counts
    them: a pair without any label is pending, so pending is every pair not in another state."""
    votes = queue_votes(queue=queue) if votes is None else votes
    pairs = queue_pairs(queue=queue)
    if state == PairState.PENDING:
        settled = [pk for pk, row in votes.items() if row.state != PairState.PENDING]
        return pairs.exclude(pk__in=settled)
    return pairs.filter(pk__in=[pk for pk, row in votes.items() if row.state == state])


def pair_rows(*, pairs: Iterable[Pair], votes: dict[int, PairVotes]) -> list[PairVotes]:
    """One row per pair (in the given order) with its votes and state; unlabelled: pending."""
    rows = []
    for pair in pairs:
        row = votes.get(pair.pk) or PairVotes(pair_id=pair.pk, domain=pair.domain)
        row.pair = pair
        rows.append(row)
    return rows


# --- agreement --------------------------------------------------------------------------------


def _report(ratings: list[agreement.Rating], min_agreement: float) -> dict[str, Any]:
    try:
        return agreement.agreement_report(ratings, min_agreement=min_agreement)
    except ValueError as exc:  # a stored label outside A/B/tie, or one item in two domains
        return {"error": str(exc), "n_items": 0, "n_ratings": 0, "by_domain": {}}


def queue_agreement(*, queue: AnnotationQueue) -> dict[str, Any]:
    """Agreement of the queue's annotators, overall, per domain and per rubric criterion.

    The statistics are those of :func:`apps.annotations.agreement.agreement_report`;
    ``by_criterion`` repeats the overall figures on the per-criterion choices, keyed by criterion
    id, for the criteria that received any.
    """
    rows = list(
        Annotation.objects.filter(queue=queue).values_list(
            "pair_id", "annotator__username", "choice", "pair__domain", "criteria"
        )
    )
    ratings = [agreement.Rating(p, a, c, d) for p, a, c, d, _ in rows]
    report = _report(ratings, queue.min_agreement)
    report["queue"] = queue.pk
    report["overlap"] = queue.overlap
    per_criterion: dict[str, list[agreement.Rating]] = defaultdict(list)
    for pair_id, username, _, domain, criteria in rows:
        if isinstance(criteria, dict):
            for criterion_id, label in criteria.items():
                per_criterion[str(criterion_id)].append(
                    agreement.Rating(pair_id, username, label, domain)
                )
    titles: dict[str, str] = {}
    if queue.rubric_version_id is not None:
        titles = {
            str(pk): title
            for pk, title in queue.rubric_version.criteria.values_list(  # type: ignore[union-attr]
                "pk", "title"
            )
        }
    by_criterion: dict[str, Any] = {}
    for criterion_id, criterion_ratings in sorted(per_criterion.items()):
        full = _report(criterion_ratings, queue.min_agreement)
        full.pop("by_domain", None)
        by_criterion[criterion_id] = {"title": titles.get(criterion_id, ""), **full}
    report["by_criterion"] = by_criterion
    return report


def dataset_agreement(*, dataset: Dataset, min_agreement: float = 0.5) -> dict[str, Any]:
    """Agreement of the labels imported with a dataset (PandaLM's three annotators, say)."""
    rows = Annotation.objects.filter(pair__dataset=dataset, imported=True).values_list(
        "pair_id", "annotator__username", "choice", "pair__domain"
    )
    report = _report([agreement.Rating(*row) for row in rows], min_agreement)
    report["dataset"] = dataset.pk
    return report


def queue_annotator_stats(*, queue: AnnotationQueue) -> list[dict[str, Any]]:
    """Per annotator of the queue: labelled, skipped, open, median seconds per label."""
    stats: dict[int, dict[str, Any]] = {}
    for user in queue.annotators.order_by("username"):
        stats[user.pk] = {"annotator": user.username, "assigned_now": True}
    status_rows = (
        Assignment.objects.filter(queue=queue)
        .values("annotator_id", "annotator__username", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in status_rows:
        entry = stats.setdefault(
            row["annotator_id"], {"annotator": row["annotator__username"], "assigned_now": False}
        )
        entry[row["status"]] = row["n"]
    times: dict[int, list[int]] = defaultdict(list)
    for annotator_id, spent in Annotation.objects.filter(
        queue=queue, time_spent_ms__isnull=False
    ).values_list("annotator_id", "time_spent_ms"):
        if spent is not None:
            times[annotator_id].append(spent)
    result = []
    for annotator_id, entry in stats.items():
        durations = times.get(annotator_id)
        result.append(
            {
                "annotator": entry["annotator"],
                "assigned_now": entry["assigned_now"],
                "done": entry.get(AssignmentStatus.DONE, 0),
                "skipped": entry.get(AssignmentStatus.SKIPPED, 0),
                "open": entry.get(AssignmentStatus.ASSIGNED, 0),
                "median_seconds": statistics.median(durations) / 1000 if durations else None,
            }
        )
    result.sort(key=lambda entry: entry["annotator"])
    return result


def eligible_annotators(*, project: Project) -> list[Any]:
    """Members of the project whose role may annotate, by username."""
    from apps.accounts.models import Membership

    memberships = Membership.objects.filter(project=project).select_related("user")
    return sorted(
        (m.user for m in memberships if has_capability(m.user, project, Capability.ANNOTATE)),
        key=lambda user: user.username,
    )


def pending_for(*, project: Project, user: Any) -> int:
    """How many pairs are open or still available to ``user`` across the project's queues."""
    total = 0
    for queue in AnnotationQueue.objects.filter(project=project, annotators=user):
        progress = annotator_progress(queue=queue, annotator=user)
        total += progress["total"] - progress["done"]
    return total


def queue_annotations(*, queue: AnnotationQueue) -> QuerySet[Annotation]:
    """The queue's annotations with their pairs and annotators (for exports)."""
    return (
        Annotation.objects.filter(queue=queue)
        .select_related("pair", "annotator")
        .order_by("pair_id", "created_at", "id")
    )
