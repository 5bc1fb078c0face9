"""Writes of the annotations app: queues, handing out pairs, labels, skips, undo, adjudication.

How pairs are handed out: each pair of a queue has ``overlap`` slots. ``assignment_next`` takes
the first pair of the queue's shuffled order that has a free slot and that the annotator has
never been assigned, and inserts an assignment for the lowest free slot. The unique constraints
on (queue, pair, slot) among live assignments, on (queue, pair, annotator) and on one open
assignment per annotator make the database the referee: when two requests race for a slot the
second insert fails inside its savepoint and the request tries again with fresh data. This is
the same on PostgreSQL and SQLite, and needs no table lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, has_capability
from apps.annotations import selectors
from apps.annotations.models import (
    Adjudication,
    Annotation,
    AnnotationQueue,
    Assignment,
    AssignmentStatus,
)
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import Dataset, GoldLabel, Pair

CHOICES: tuple[str, ...] = tuple(GoldLabel.values)
_CHOICE_SPELLINGS = {value.lower(): value for value in CHOICES}

# How many candidate pairs one round looks at, and how many rounds a request makes before it
# gives up under extreme contention (every round re-reads what the other requests took).
_CANDIDATES_PER_ROUND = 16
_ROUNDS = 8

MAX_RATIONALE = 10_000
MAX_CONFIDENCE = 5
# A label that took longer than a day was left open in a tab, not worked on.
MAX_TIME_SPENT_MS = 24 * 60 * 60 * 1000


class AssignmentClosed(Exception):
    """The assignment is no longer open: labelled, skipped, or released (an API 409)."""


def normalize_choice(value: Any, *, field_name: str = "choice") -> str:
    """``A``, ``B`` or ``tie`` (any case); ValidationError otherwise."""
    label = _CHOICE_SPELLINGS.get(str(value).strip().lower()) if value is not None else None
    if label is None:
        raise ValidationError({field_name: [f"{value!r} is not one of A, B, tie."]})
    return label


# --- queues -----------------------------------------------------------------------------------


def _validated_annotators(project: Project, annotators: Iterable[Any]) -> list[Any]:
    users = list({user.pk: user for user in annotators}.values())
    refused = [
        user.username for user in users if not has_capability(user, project, Capability.ANNOTATE)
    ]
    if refused:
        raise ValidationError(
            {
                "annotators": [
                    f"{', '.join(sorted(refused))}: not a member of {project.name} with a role "
                    "that may annotate."
                ]
            }
        )
    return users


def _queue_state(queue: AnnotationQueue) -> dict[str, Any]:
    return {
        "name": queue.name,
        "dataset": queue.dataset_id,
        "domains": list(queue.domains),
        "rubric_version": queue.rubric_version_id,
        "overlap": queue.overlap,
        "min_agreement": queue.min_agreement,
        "instructions": queue.instructions,
        "annotators": sorted(queue.annotators.values_list("username", flat=True)),
    }


def _check_min_agreement(value: float) -> float:
    if not isinstance(value, int | float) or math.isnan(value) or not 0 < value <= 1:
        raise ValidationError(
            {"min_agreement": ["A share of the labels: more than 0, at most 1 (0.5 = half)."]}
        )
    return float(value)


@transaction.atomic
def annotation_queue_create(
    *,
    actor: Any,
    project: Project,
    dataset: Dataset,
    annotators: Iterable[Any],
    name: str = "",
    rubric_version: Any = None,
    overlap: int = 1,
    min_agreement: float = 0.5,
    domains: Iterable[str] = (),
    instructions: str = "",
) -> AnnotationQueue:
    """Create a queue of ``dataset``'s pairs (optionally some domains) for ``annotators``.

    Each pair gets ``overlap`` distinct annotators; a pair's consensus needs ``min_agreement``
    of its labels. ``rubric_version``'s criteria are shown to annotators as guidelines and may
    be labelled one by one. Annotators must be members whose role may annotate, at least
    ``overlap`` of them. Audited.
    """
    if dataset.project_id != project.pk:
        raise ValidationError({"dataset": ["No such dataset in this project."]})
    if rubric_version is not None and rubric_version.rubric.project_id != project.pk:
        raise ValidationError({"rubric_version": ["No such rubric version in this project."]})
    if not isinstance(overlap, int) or overlap < 1:
        raise ValidationError({"overlap": ["At least 1 annotator per pair."]})
    min_agreement = _check_min_agreement(min_agreement)
    users = _validated_annotators(project, annotators)
    if len(users) < overlap:
        raise ValidationError(
            {
                "annotators": [
                    f"An overlap of {overlap} needs at least {overlap} annotators; "
                    f"{len(users)} given."
                ]
            }
        )
    wanted = sorted({str(domain).strip() for domain in domains if str(domain).strip()})
    if wanted:
        known = set(
            Pair.objects.filter(dataset=dataset, domain__in=wanted).values_list("domain", flat=True)
        )
        unknown = [domain for domain in wanted if domain not in known]
        if unknown:
            raise ValidationError(
                {"domains": [f"{dataset.name} has no pairs in: {', '.join(unknown)}."]}
            )
    queue = AnnotationQueue.objects.create(
        project=project,
        dataset=dataset,
        name=(name or "").strip()[:200] or f"Label {dataset.name}",
        domains=wanted,
        rubric_version=rubric_version,
        overlap=overlap,
        min_agreement=min_agreement,
        instructions=instructions or "",
        created_by=actor_or_none(actor),
    )
    queue.annotators.set(users)
    audit_event_record(
        actor=actor, action="annotation_queue.create", obj=queue, after=_queue_state(queue)
    )
    return queue


@transaction.atomic
def annotation_queue_update(
    *,
    actor: Any,
    queue: AnnotationQueue,
    name: str | None = None,
    instructions: str | None = None,
    min_agreement: float | None = None,
    annotators: Iterable[Any] | None = None,
) -> AnnotationQueue:
    """Rename, reword, change the consensus threshold or the annotators of a queue. Audited.

    A removed annotator's open assignment is released (its slot goes back to the pool); their
    labels stay. The dataset, domains and overlap are fixed once a queue exists, because the
    assignments already handed out were shaped by them.
    """
    before = _queue_state(queue)
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": ["A queue needs a name."]})
        queue.name = name.strip()[:200]
    if instructions is not None:
        queue.instructions = instructions
    if min_agreement is not None:
        queue.min_agreement = _check_min_agreement(min_agreement)
    if annotators is not None:
        users = _validated_annotators(queue.project, annotators)
        if len(users) < queue.overlap:
            raise ValidationError(
                {"annotators": [f"This queue's overlap of {queue.overlap} needs that many."]}
            )
        queue.annotators.set(users)
        Assignment.objects.filter(queue=queue, status=AssignmentStatus.ASSIGNED).exclude(
            annotator__in=users
        ).delete()
    queue.save()
    after = _queue_state(queue)
    if after != before:
        audit_event_record(
            actor=actor, action="annotation_queue.update", obj=queue, before=before, after=after
        )
    return queue


# --- handing out pairs ------------------------------------------------------------------------


def _require_annotator(queue: AnnotationQueue, annotator: Any) -> None:
    if not has_capability(annotator, queue.project, Capability.ANNOTATE):
        raise PermissionDenied("Your role in this project does not allow annotating.")
    if not selectors.is_assigned(queue=queue, user=annotator):
        raise PermissionDenied("You are not one of this queue's annotators.")


def _claim(queue: AnnotationQueue, annotator: Any, pair_id: int) -> Assignment | None:
    """Insert an assignment for the pair's lowest free slot; None when the pair is full."""
    for _ in range(queue.overlap + 1):
        taken = set(
            Assignment.objects.filter(
                queue=queue, pair_id=pair_id, status__in=selectors.LIVE
            ).values_list("slot", flat=True)
        )
        free = [slot for slot in range(queue.overlap) if slot not in taken]
        if not free:
            return None
        try:
            with transaction.atomic():
                return Assignment.objects.create(
                    queue=queue, pair_id=pair_id, annotator=annotator, slot=free[0]
                )
        except IntegrityError:
            # Someone took that slot (read again), or this annotator's other request just got
            # a pair (the caller returns that one).
            if selectors.open_assignment(queue=queue, annotator=annotator) is not None:
                return None
    return None


def assignment_next(*, queue: AnnotationQueue, annotator: Any) -> Assignment | None:
    """The annotator's open assignment, or a new one; None when nothing is left for them.

    A new assignment is the first pair of the queue's stable shuffled order (seeded by the
    queue id) that still has a free slot and that this annotator was never assigned, so every
    pair gets ``overlap`` distinct annotators and nobody sees a pair twice. Safe when many
    requests ask at once (see the module docstring). PermissionDenied for users who are not
    the queue's annotators.
    """
    _require_annotator(queue, annotator)
    # No transaction around the rounds: each read must see what other requests committed
    # meanwhile, and each insert is atomic on its own (``_claim``).
    for _ in range(_ROUNDS):
        current = selectors.open_assignment(queue=queue, annotator=annotator)
        if current is not None:
            return current
        candidates = list(
            selectors.available_pairs(queue=queue, annotator=annotator).values_list(
                "id", flat=True
            )[:_CANDIDATES_PER_ROUND]
        )
        if not candidates:
            return None
        for pair_id in candidates:
            assignment = _claim(queue, annotator, pair_id)
            if assignment is not None:
                return assignment
            current = selectors.open_assignment(queue=queue, annotator=annotator)
            if current is not None:
                return current
    return selectors.open_assignment(queue=queue, annotator=annotator)


def _close(assignment: Assignment, status: str) -> None:
    """Move an open assignment to ``status``; AssignmentClosed if it was not open any more.

    A conditional UPDATE, so two submissions of the same assignment cannot both succeed.
    """
    changed = Assignment.objects.filter(pk=assignment.pk, status=AssignmentStatus.ASSIGNED).update(
        status=status, completed_at=timezone.now()
    )
    if not changed:
        raise AssignmentClosed("This pair is no longer open for you (labelled or skipped).")
    assignment.status = status


def _criteria(queue: AnnotationQueue, criteria: Mapping[Any, Any] | None) -> dict[str, str]:
    """Per-criterion choices keyed by criterion id (a criterion's key is accepted too)."""
    if not criteria:
        return {}
    if not isinstance(criteria, Mapping):
        raise ValidationError({"criteria": ["Expected an object {criterion id: A|B|tie}."]})
    known: dict[str, str] = {}
    if queue.rubric_version_id is not None:
        for pk, key in queue.rubric_version.criteria.values_list("pk", "key"):  # type: ignore[union-attr]
            known[str(pk)] = str(pk)
            known.setdefault(key, str(pk))
    cleaned: dict[str, str] = {}
    for raw_key, value in criteria.items():
        if value in (None, ""):
            continue
        criterion_id = known.get(str(raw_key).strip())
        if criterion_id is None:
            raise ValidationError(
                {"criteria": [f"{raw_key!r} is not a criterion of this queue's rubric version."]}
            )
        cleaned[criterion_id] = normalize_choice(value, field_name="criteria")
    return cleaned


def annotation_submit(
    *,
    assignment: Assignment,
    choice: str,
    criteria: Mapping[Any, Any] | None = None,
    rationale: str = "",
    confidence: int | None = None,
    time_spent_ms: int | None = None,
) -> Annotation:
    """Record the annotator's preference for the assignment's pair and close the assignment.

    ``choice`` is A, B or tie; ``criteria`` optional per-criterion choices keyed by criterion id
    of the queue's rubric version; ``confidence`` 1-5. ValidationError on bad input,
    AssignmentClosed when the assignment is no longer open.
    """
    queue = assignment.queue
    label = normalize_choice(choice)
    cleaned = _criteria(queue, criteria)
    rationale = (rationale or "").strip()
    if len(rationale) > MAX_RATIONALE:
        raise ValidationError({"rationale": [f"At most {MAX_RATIONALE:,} characters."]})
    if confidence is not None and not (
        isinstance(confidence, int) and 1 <= confidence <= MAX_CONFIDENCE
    ):
        raise ValidationError({"confidence": [f"A whole number from 1 to {MAX_CONFIDENCE}."]})
    if time_spent_ms is not None:
        if not isinstance(time_spent_ms, int) or time_spent_ms < 0:
            raise ValidationError({"time_spent_ms": ["A number of milliseconds, 0 or more."]})
        time_spent_ms = min(time_spent_ms, MAX_TIME_SPENT_MS)
    with transaction.atomic():
        _close(assignment, AssignmentStatus.DONE)
        return Annotation.objects.create(
            queue=queue,
            assignment=assignment,
            pair_id=assignment.pair_id,
            annotator=assignment.annotator,
            choice=label,
            criteria=cleaned,
            rationale=rationale,
            confidence=confidence,
            time_spent_ms=time_spent_ms,
        )


@transaction.atomic
def assignment_skip(*, assignment: Assignment) -> Assignment:
    """Pass over the assignment's pair: its slot goes back to the pool for another annotator,
    and this annotator is not handed the pair again. AssignmentClosed if it was not open."""
    _close(assignment, AssignmentStatus.SKIPPED)
    return assignment


@dataclass
class UndoResult:
    """The reopened assignment and what the undone annotation said (to fill the form again)."""

    assignment: Assignment
    choice: str
    criteria: dict[str, str] = field(default_factory=dict)
    rationale: str = ""
    confidence: int | None = None


@transaction.atomic
def annotation_undo(*, queue: AnnotationQueue, annotator: Any) -> UndoResult | None:
    """Delete the annotator's last annotation in the queue and reopen its assignment.

    The pair the annotator was given after it is released (back to the pool, unlabelled), so
    the reopened pair is the one on screen. None when there is nothing to undo.
    """
    last = (
        Annotation.objects.select_for_update(of=("self",))
        .filter(queue=queue, annotator=annotator, assignment__isnull=False)
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None or last.assignment_id is None:
        return None
    assignment = Assignment.objects.select_related("pair").get(pk=last.assignment_id)
    Assignment.objects.filter(
        queue=queue, annotator=annotator, status=AssignmentStatus.ASSIGNED
    ).delete()
    result = UndoResult(
        assignment=assignment,
        choice=last.choice,
        criteria=dict(last.criteria or {}),
        rationale=last.rationale,
        confidence=last.confidence,
    )
    last.delete()
    Assignment.objects.filter(pk=assignment.pk).update(
        status=AssignmentStatus.ASSIGNED, completed_at=None
    )
    assignment.status = AssignmentStatus.ASSIGNED
    assignment.completed_at = None
    return result


# --- consensus and adjudication ---------------------------------------------------------------


def queue_consensus_labels(*, queue: AnnotationQueue) -> dict[int, tuple[str, str]]:
    """{pair id: (label, source)} of a queue, for freezing a reference set from it.

    ``source`` is ``"adjudicated"`` where an admin set the label (it wins over any consensus)
    and ``"consensus"`` where the pair's ``overlap`` labels reached the queue's
    ``min_agreement``. Pairs with neither are left out.
    """
    return selectors.queue_final_labels(queue=queue)


def _votes_of(queue: AnnotationQueue, pair: Pair) -> dict[str, Any]:
    votes = list(
        Annotation.objects.filter(queue=queue, pair=pair)
        .order_by("annotator__username")
        .values_list("annotator__username", "choice")
    )
    return {username: choice for username, choice in votes}


@transaction.atomic
def adjudication_set(
    *, actor: Any, queue: AnnotationQueue, pair: Pair, label: str, reason: str = ""
) -> Adjudication:
    """An admin's label for a pair of the queue (wins over consensus). Audited with the votes."""
    label = normalize_choice(label, field_name="label")
    if not selectors.queue_pairs(queue=queue).filter(pk=pair.pk).exists():
        raise ValidationError({"pair": ["This pair is not in the queue."]})
    existing = Adjudication.objects.filter(queue=queue, pair=pair).first()
    before = {"label": existing.label, "reason": existing.reason} if existing else None
    adjudication, _ = Adjudication.objects.update_or_create(
        queue=queue,
        pair=pair,
        defaults={"label": label, "reason": (reason or "").strip(), "decided_by": actor},
    )
    audit_event_record(
        actor=actor,
        action="annotation.adjudicate",
        obj=adjudication,
        project=queue.project,
        before=before,
        after={
            "queue": queue.pk,
            "pair": pair.pk,
            "label": adjudication.label,
            "reason": adjudication.reason,
            "votes": _votes_of(queue, pair),
        },
    )
    return adjudication


@transaction.atomic
def adjudication_clear(*, actor: Any, queue: AnnotationQueue, pair: Pair) -> bool:
    """Withdraw an admin's label (the pair goes back to its consensus, if any). Audited."""
    existing = Adjudication.objects.filter(queue=queue, pair=pair).first()
    if existing is None:
        return False
    audit_event_record(
        actor=actor,
        action="annotation.adjudication_clear",
        obj=existing,
        project=queue.project,
        before={
            "queue": queue.pk,
            "pair": pair.pk,
            "label": existing.label,
            "reason": existing.reason,
        },
        after=None,
    )
    existing.delete()
    return True
