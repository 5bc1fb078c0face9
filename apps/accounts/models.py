"""Projects (workspaces), memberships and roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    AUTHOR = "author", "Author"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class ProjectQuerySet(models.QuerySet["Project"]):
    def for_user(self, user: object) -> ProjectQuerySet:
        """Projects the user belongs to (all of them for a superuser)."""
        if getattr(user, "is_superuser", False):
            return self.all()
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(memberships__user=user).distinct()


class Project(TimeStampedModel):
    """A workspace: every rubric, dataset, run and alert belongs to exactly one project.

    Members see only their projects; ``webhook_url`` optionally receives drift alert events.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    webhook_url = models.URLField(blank=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def project(self) -> Project:
        """A project is its own project (lets permission code treat every object alike)."""
        return self


class Membership(TimeStampedModel):
    """A user's role in one project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")
        ]
        ordering = ["project", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"
