"""Datasets of response pairs and frozen reference sets of gold labels."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel


class GoldLabel(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    TIE = "tie", "Tie"


class Dataset(TimeStampedModel):
    """A named collection of pairs in a project, imported from files or written by hand."""

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="datasets"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=200, blank=True)
    # Labels of the file's own annotators (PandaLM) that imports handed to the annotations app.
    annotator_label_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dataset_name_per_project")
        ]

    def __str__(self) -> str:
        return self.name


class Pair(models.Model):
    """A prompt (possibly a multi-turn transcript) with two responses, in one domain.

    ``content_hash`` is unique per dataset, so importing the same file twice adds nothing.
    ``gold_label`` is the label that came with the import, if any; the *trusted* label used by
    judging lives on a ``ReferenceItem``.
    """

    # No index of its own: the unique (dataset, content_hash) and the (dataset, domain) indexes
    # both lead with it, and every index costs time on a 100,000-pair import.
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="pairs", db_index=False
    )
    external_id = models.CharField(max_length=200, blank=True)
    prompt = models.TextField()
    response_a = models.TextField()
    response_b = models.TextField()
    # Pairs are always looked up within a dataset: the (dataset, domain) index serves filters.
    domain = models.CharField(max_length=100, default="general")
    gold_label = models.CharField(max_length=3, choices=GoldLabel.choices, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "content_hash"], name="pair_unique_in_dataset"
            )
        ]
        indexes = [models.Index(fields=["dataset", "domain"])]

    def __str__(self) -> str:
        return f"pair {self.pk} ({self.domain})"

    @property
    def project(self) -> Any:
        return self.dataset.project


class ReferenceSource(models.TextChoices):
    IMPORTED = "imported", "Imported"
    CONSENSUS = "consensus", "Annotator consensus"
    ADJUDICATED = "adjudicated", "Adjudicated"


IMMUTABLE = "reference snapshots are immutable; create a new snapshot instead"


class FrozenQuerySet(models.QuerySet[Any]):
    """Refuses bulk updates: the rows of a reference snapshot never change once written."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError(IMMUTABLE)


class ReferenceSet(models.Model):
    """A frozen snapshot of (pair, gold label): drift is always measured on one snapshot.

    Immutable once created; any change makes a new snapshot (``version`` counts snapshots of the
    same name). ``domain_counts`` caches the domain mix; ``unlabelled_count`` says how many pairs
    of the source were left out because they had no label.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="reference_sets"
    )
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="reference_sets")
    # Where the labels came from: ``dataset`` (its imported labels) or a registered source such
    # as ``queue`` (apps/datasets/label_sources.py), named by kind and id, described in words.
    source_kind = models.CharField(max_length=50, default="dataset")
    source_id = models.PositiveIntegerField(null=True, blank=True)
    source_description = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    item_count = models.PositiveIntegerField(default=0)
    domain_counts = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    unlabelled_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FrozenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "version"], name="reference_set_version_per_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (snapshot {self.version})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError(IMMUTABLE)
        super().save(*args, **kwargs)


class ReferenceItem(models.Model):
    """One pair's trusted label inside a reference snapshot (immutable, like its snapshot)."""

    reference_set = models.ForeignKey(ReferenceSet, on_delete=models.CASCADE, related_name="items")
    pair = models.ForeignKey(Pair, on_delete=models.PROTECT, related_name="reference_items")
    gold_label = models.CharField(max_length=3, choices=GoldLabel.choices)
    source = models.CharField(max_length=16, choices=ReferenceSource.choices)

    objects = FrozenQuerySet.as_manager()

    class Meta:
        ordering = ["reference_set", "pair"]
        constraints = [
            models.UniqueConstraint(fields=["reference_set", "pair"], name="one_item_per_pair")
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError(IMMUTABLE)
        super().save(*args, **kwargs)

    @property
    def project(self) -> Any:
        return self.reference_set.project
