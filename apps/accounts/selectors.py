"""Reads about projects and memberships."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from apps.accounts.models import Membership, Project


def projects_for_user(*, user: Any) -> QuerySet[Project]:
    """The projects a user can open, by name."""
    return Project.objects.for_user(user).order_by("name")


def project_members(*, project: Project) -> QuerySet[Membership]:
    """A project's memberships with their users."""
    return project.memberships.select_related("user").order_by("user__username")


def demo_usernames() -> list[str]:
    """The demo users' names when this installation holds the demo (never in production)."""
    from apps.accounts.demo import DEMO_PROJECT_SLUG, DEMO_USERS

    if settings.PRODUCTION or not Project.objects.filter(slug=DEMO_PROJECT_SLUG).exists():
        return []
    return [username for username, _ in DEMO_USERS]
