"""Annotation queues, assignments of pairs to annotators, annotations and adjudications."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel
from apps.datasets.models import GoldLabel


class AnnotationQueue(TimeStampedModel):
    """A labelling job: pairs of a dataset (optionally some domains) for assigned annotators.

    Each pair gets ``overlap`` distinct annotators; consensus needs ``min_agreement`` of them.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="annotation_queues"
    )
    name = models.CharField(max_length=200)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="queues")
    domains = models.JSONField(default=list, blank=True)
    rubric_version = models.ForeignKey(
        "rubrics.RubricVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overlap = models.PositiveSmallIntegerField(default=1)
    min_agreement = models.FloatField(default=0.5)
    instructions = models.TextField(blank=True)
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="annotation_queues"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class AssignmentStatus(models.TextChoices):
    """Where an assignment stands: on the annotator's screen, labelled, or passed over."""

    ASSIGNED = "assigned", "Assigned"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class Assignment(models.Model):
    """Slot ``slot`` (0..overlap-1) of a pair in a queue, handed to one annotator.

    Unique on (queue, pair, slot) among live (assigned or done) assignments and on (queue, pair,
    annotator): two annotators asking at once can never take the same slot, and nobody sees a
    pair twice. A skipped assignment releases its slot for another annotator.
    """

    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="assignments")
    pair = models.ForeignKey("datasets.Pair", on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    slot = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A skipped assignment keeps its row (so its annotator never gets the pair again)
            # but gives its slot back: only live assignments hold a slot.
            models.UniqueConstraint(
                fields=["queue", "pair", "slot"],
                condition=models.Q(status__in=["assigned", "done"]),
                name="one_annotator_per_slot",
            ),
            models.UniqueConstraint(
                fields=["queue", "pair", "annotator"], name="annotator_sees_pair_once"
            ),
            # One pair on screen per annotator and queue: two tabs or a double click asking for
            # the next pair at once get the same assignment instead of taking two slots.
            models.UniqueConstraint(
                fields=["queue", "annotator"],
                condition=models.Q(status="assigned"),
                name="one_open_assignment_per_annotator",
            ),
        ]
        indexes = [models.Index(fields=["queue", "annotator", "status"])]

    def __str__(self) -> str:
        return f"assignment {self.pk}: pair {self.pair_id} slot {self.slot} ({self.status})"

    @property
    def project(self) -> Any:
        return self.queue.project


class Annotation(models.Model):
    """A human preference for a pair: A, B or tie, with optional per-criterion choices.

    ``queue`` is empty for labels imported with a dataset (PandaLM's three annotators).
    """

    queue = models.ForeignKey(
        AnnotationQueue, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations"
    )
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="annotation"
    )
    pair = models.ForeignKey("datasets.Pair", on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    choice = models.CharField(max_length=3, choices=GoldLabel.choices)
    criteria = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    imported = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["pair", "annotator", "queue"], name="one_annotation_per_annotator"
            )
        ]

    def __str__(self) -> str:
        return f"annotation of pair {self.pair_id}: {self.choice}"

    @property
    def project(self) -> Any:
        return self.pair.dataset.project


class Adjudication(models.Model):
    """An admin's label for a pair whose annotators reached no consensus."""

    queue = models.ForeignKey(
        AnnotationQueue, on_delete=models.CASCADE, related_name="adjudications"
    )
    pair = models.ForeignKey("datasets.Pair", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=3, choices=GoldLabel.choices)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "pair"], name="one_adjudication_per_pair")
        ]

    def __str__(self) -> str:
        return f"adjudication of pair {self.pair_id}: {self.label}"

    @property
    def project(self) -> Any:
        return self.queue.project
