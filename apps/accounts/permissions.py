"""Roles, in one mechanism for every view and endpoint.

Each page or endpoint names the *capability* it needs (``Capability.RUBRIC_EDIT``...); this
module alone says which roles grant which capability. Views use ``ProjectAccessMixin``, API
viewsets ``ProjectRolePermission``; both resolve the project (from the URL, the object or the
request body) and call ``has_capability``. Anything not in a user's projects is a 404, so ids of
other projects leak nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from rest_framework import permissions

from apps.accounts.models import Membership, Project, Role

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class Capability(StrEnum):
    PROJECT_VIEW = "project.view"
    PROJECT_MANAGE = "project.manage"
    RUBRIC_VIEW = "rubric.view"
    RUBRIC_EDIT = "rubric.edit"
    RUBRIC_PROMOTE = "rubric.promote"
    DATASET_VIEW = "dataset.view"
    DATASET_EDIT = "dataset.edit"
    ANNOTATE = "annotate"
    QUEUE_MANAGE = "queue.manage"
    RUN_VIEW = "run.view"
    RUN_START = "run.start"
    ALERT_VIEW = "alert.view"
    ALERT_RESOLVE = "alert.resolve"
    GUARD_EDIT = "guard.edit"
    REDTEAM_START = "redteam.start"


_ALL = frozenset(Role)
_STAFF = frozenset({Role.ADMIN, Role.AUTHOR, Role.VIEWER})
_WRITERS = frozenset({Role.ADMIN, Role.AUTHOR})
_ADMINS = frozenset({Role.ADMIN})

# Annotators label blind: they never see gold labels, judge verdicts or drift reports.
ROLE_CAPABILITIES: dict[Capability, frozenset[Role]] = {
    Capability.PROJECT_VIEW: _ALL,
    Capability.PROJECT_MANAGE: _ADMINS,
    Capability.RUBRIC_VIEW: _STAFF,
    Capability.RUBRIC_EDIT: _WRITERS,
    Capability.RUBRIC_PROMOTE: _ADMINS,
    Capability.DATASET_VIEW: _STAFF,
    Capability.DATASET_EDIT: _WRITERS,
    Capability.ANNOTATE: frozenset({Role.ADMIN, Role.AUTHOR, Role.ANNOTATOR}),
    Capability.QUEUE_MANAGE: _ADMINS,
    Capability.RUN_VIEW: _STAFF,
    Capability.RUN_START: _WRITERS,
    Capability.ALERT_VIEW: _STAFF,
    Capability.ALERT_RESOLVE: _ADMINS,
    Capability.GUARD_EDIT: _ADMINS,
    # A red team spends judge budget searching for attacks and writes attack drafts: admins only.
    Capability.REDTEAM_START: _ADMINS,
}


def role_of(user: Any, project: Project) -> Role | None:
    """The user's role in the project; superusers act as admins everywhere."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.ADMIN
    cache = user.__dict__.setdefault("_project_roles", {})
    if project.pk not in cache:
        role = (
            Membership.objects.filter(project=project, user=user)
            .values_list("role", flat=True)
            .first()
        )
        cache[project.pk] = Role(role) if role else None
    return cache[project.pk]


def has_capability(user: Any, project: Project, capability: Capability) -> bool:
    """Whether the user's role in ``project`` grants ``capability``."""
    role = role_of(user, project)
    return role is not None and role in ROLE_CAPABILITIES[capability]


def capabilities_of(user: Any, project: Project) -> set[str]:
    """Every capability the user holds in the project (for navigation and templates)."""
    role = role_of(user, project)
    if role is None:
        return set()
    return {cap.value for cap, roles in ROLE_CAPABILITIES.items() if role in roles}


def project_of(obj: Any) -> Project:
    """The project an object belongs to (every domain model exposes ``.project``)."""
    return obj if isinstance(obj, Project) else obj.project


def check_capability(user: Any, project: Project, capability: Capability) -> None:
    """Raise 404 when the user is not a member (hide existence), 403 when the role is too low."""
    if role_of(user, project) is None:
        raise Http404("No such project.")
    if not has_capability(user, project, capability):
        raise PermissionDenied(f"Your role in {project.name} does not allow this ({capability}).")


class ProjectAccessMixin(LoginRequiredMixin):
    """For project pages: ``/p/<project>/...`` with ``required_capability`` on the view.

    Sets ``self.project`` and ``self.capabilities`` before the handler runs.
    """

    required_capability: Capability
    request: HttpRequest
    kwargs: dict[str, Any]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.project = get_object_or_404(Project, slug=kwargs["project"])
        check_capability(request.user, self.project, self.required_capability)
        self.capabilities = capabilities_of(request.user, self.project)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(project=self.project, capabilities=self.capabilities)
        return context


class ProjectRolePermission(permissions.BasePermission):
    """The API side of the same mechanism.

    A viewset declares ``capabilities = {"list": Capability.X, "create": ..., "<action>": ...}``
    (``"*"`` as the fallback). Object actions check the object's project; ``create`` checks the
    project named in the request body, resolved by the viewset's ``get_create_project()``. Lists
    are not checked here: every viewset's queryset is already limited to the user's projects.
    A viewset with no declaration is refused (fail closed).
    """

    def _capability(self, view: APIView) -> Capability | None:
        table: dict[str, Capability] = getattr(view, "capabilities", {})
        action = getattr(view, "action", None) or view.request.method.lower()  # type: ignore[union-attr]
        return table.get(action, table.get("*"))

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if getattr(view, "public_to_members", False):
            return True
        capability = self._capability(view)
        if capability is None:
            return False
        if getattr(view, "action", None) == "create" and hasattr(view, "get_create_project"):
            project = view.get_create_project()
            check_capability(request.user, project, capability)
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        capability = self._capability(view)
        if capability is None:
            return False
        check_capability(request.user, project_of(obj), capability)
        return True


class SiteAdminPermission(permissions.BasePermission):
    """Site-wide administration (creating users): superusers only."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)
