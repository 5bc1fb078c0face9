"""Reads about projects and memberships."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import Membership, Project


def projects_for_user(*, user: Any) -> QuerySet[Project]:
    """The projects a user can open, by name."""
    return Project.objects.for_user(user).order_by("name")


def project_members(*, project: Project) -> QuerySet[Membership]:
    """A project's memberships with their users."""
    return project.memberships.select_related("user").order_by("user__username")
