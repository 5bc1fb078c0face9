"""Rubrics, their immutable versions, criteria and labels (``production``...)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel
from apps.rubrics.spec import CriterionSpec, RubricSpec


class Rubric(TimeStampedModel):
    """A named rubric in a project; its content lives in numbered versions.

    Its drift guard, when it has one, belongs to the drift app (``apps.drift.models.DriftGuard``),
    which takes part in publishing and promotion through ``apps.rubrics.hooks``.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="rubrics"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="rubric_slug_per_project")
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class PublishedVersionError(PermissionError):
    """A write to a published version or to one of its criteria (they are immutable)."""


class RubricVersionQuerySet(models.QuerySet["RubricVersion"]):
    """Refuses bulk updates and deletes that would touch a published version."""

    def update(self, **kwargs: Any) -> int:
        if self.filter(status=VersionStatus.PUBLISHED).exists() and set(kwargs) != {"author"}:
            raise PublishedVersionError("published rubric versions are immutable")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=VersionStatus.PUBLISHED).exists():
            raise PublishedVersionError("published rubric versions cannot be deleted")
        return super().delete()


class CriterionQuerySet(models.QuerySet["Criterion"]):
    """Refuses bulk writes to the criteria of a published version."""

    def _touches_published(self) -> bool:
        return self.filter(version__status=VersionStatus.PUBLISHED).exists()

    def update(self, **kwargs: Any) -> int:
        if self._touches_published():
            raise PublishedVersionError("criteria of a published version are immutable")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self._touches_published():
            raise PublishedVersionError("criteria of a published version are immutable")
        return super().delete()

    def bulk_create(  # type: ignore[override]
        self,
        objs: Iterable[Criterion],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[Criterion]:
        objs = list(objs)
        version_ids = {obj.version_id for obj in objs}
        published = RubricVersion.objects.filter(
            pk__in=version_ids, status=VersionStatus.PUBLISHED
        ).exists()
        if published:
            raise PublishedVersionError("criteria of a published version are immutable")
        return list(
            super().bulk_create(
                objs,  # type: ignore[arg-type]
                batch_size=batch_size,
                ignore_conflicts=ignore_conflicts,
                update_conflicts=update_conflicts,
                update_fields=update_fields,
                unique_fields=unique_fields,
            )
        )


class RubricVersion(models.Model):
    """One version of a rubric: a draft while edited, immutable once published.

    ``parent`` makes the versions a tree (fork from any version). ``revision`` is bumped on every
    draft save so stale writes are detected (optimistic concurrency).
    """

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # RESTRICT, not PROTECT: a parent cannot be deleted on its own, but a whole rubric (the tree
    # with it) can.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="children"
    )
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    instructions = models.TextField(blank=True)
    template = models.TextField(blank=True)
    output_format = models.CharField(max_length=32, default="verdict")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = RubricVersionQuerySet.as_manager()

    class Meta:
        ordering = ["rubric", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rubric", "number"], name="version_number_per_rubric")
        ]

    def __str__(self) -> str:
        return f"{self.rubric.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, unless the stored row is already published (the model-level guard).

        The database has its own guard on PostgreSQL (a trigger, migration 0002); this one
        covers every backend and gives a clear error before any SQL is sent.
        """
        if self.pk is not None:
            stored = RubricVersion.objects.filter(pk=self.pk).values("status").first()
            if stored is not None and stored["status"] == VersionStatus.PUBLISHED:
                update_fields = kwargs.get("update_fields")
                if update_fields is None or set(update_fields) != {"author"}:
                    raise PublishedVersionError(f"{self} is published and cannot change")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.is_published:
            raise PublishedVersionError(f"{self} is published and cannot be deleted")
        return super().delete(*args, **kwargs)

    def to_spec(self) -> RubricSpec:
        """The version's content as a plain ``RubricSpec`` (for diffs, prompts, judges)."""
        return RubricSpec(
            instructions=self.instructions,
            template=self.template,
            output_format=self.output_format,
            criteria=tuple(c.to_spec() for c in self.criteria.all()),
        )

    @property
    def project(self) -> Any:
        return self.rubric.project

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED


class CriterionKindChoices(models.TextChoices):
    PRINCIPLE = "principle", "Principle"
    HARD_RULE = "hard_rule", "Hard rule"


class Criterion(models.Model):
    """One criterion of a version. ``key`` stays the same across versions so diffs match it."""

    version = models.ForeignKey(RubricVersion, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=64)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    weight = models.FloatField(default=1.0)
    kind = models.CharField(
        max_length=16, choices=CriterionKindChoices.choices, default=CriterionKindChoices.PRINCIPLE
    )
    # Named machine_check because Model.check() is Django's system-check hook; the API calls it
    # "check".
    machine_check = models.JSONField(null=True, blank=True)

    objects = CriterionQuerySet.as_manager()

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="criterion_key_per_version")
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, unless the criterion belongs to a published version (model-level guard)."""
        if self._version_is_published():
            raise PublishedVersionError("criteria of a published version are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self._version_is_published():
            raise PublishedVersionError("criteria of a published version are immutable")
        return super().delete(*args, **kwargs)

    @property
    def project(self) -> Any:
        return self.version.rubric.project

    def _version_is_published(self) -> bool:
        return RubricVersion.objects.filter(
            pk=self.version_id, status=VersionStatus.PUBLISHED
        ).exists()

    def to_spec(self) -> CriterionSpec:
        return CriterionSpec(
            key=self.key,
            title=self.title,
            description=self.description,
            weight=self.weight,
            kind=self.kind,  # type: ignore[arg-type]
            check=self.machine_check,
        )


class RubricLabel(models.Model):
    """A movable label (``production``, ``staging``...) pointing at one published version."""

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="labels")
    name = models.SlugField(max_length=40)
    # RESTRICT: a labelled version cannot be deleted on its own, only with its whole rubric.
    version = models.ForeignKey(RubricVersion, on_delete=models.RESTRICT, related_name="labels")
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rubric", "name"], name="label_per_rubric")]

    def __str__(self) -> str:
        return f"{self.rubric.name}@{self.name} -> v{self.version.number}"

    @property
    def project(self) -> Any:
        return self.rubric.project
