"""The one way API viewsets are scoped to the caller's projects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ParseError, PermissionDenied

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, has_capability


class ProjectScopedMixin:
    """Limits a viewset's queryset to the caller's projects and resolves the project of a create.

    Subclasses set ``queryset``, ``serializer_class``, ``capabilities`` and, when the model does
    not have a direct ``project`` field, ``project_lookup`` (e.g. ``"rubric__project"``).
    ``create`` resolves the project from the body field named by ``create_project_field``
    (either a project id or the id of a ``create_project_model`` object, a model with a
    ``project`` foreign key; that object is then ``self.create_parent``).
    """

    project_lookup = "project"
    create_project_field = "project"
    create_project_model: type[Model] | None = None
    capabilities: dict[str, Capability] = {}
    request: Any
    create_parent: Any = None

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()  # type: ignore[misc]
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return queryset.none()
        projects: Any = Project.objects.for_user(self.request.user)
        if getattr(self, "action", None) == "list":
            projects = self._projects_allowing_list(projects)
        return queryset.filter(**{f"{self.project_lookup}__in": projects})

    def _projects_allowing_list(self, projects: QuerySet[Project]) -> list[int]:
        """Lists show only projects where the caller's role grants the list capability.

        A caller whose role grants it in none of their projects is refused (403) rather than
        shown an empty list: an annotator must not page through gold labels or verdicts.
        """
        capability = self.capabilities.get("list") or self.capabilities.get("*")
        if capability is None:
            raise PermissionDenied("This list declares no capability.")
        user = self.request.user
        allowed = [p.pk for p in projects if has_capability(user, p, capability)]
        if not allowed:
            raise PermissionDenied(f"Your role does not allow this ({capability}).")
        return allowed

    def get_create_project(self) -> Project:
        """The project a create goes to; resolved once per request (the permission check and
        the handler both ask)."""
        if "_create_project" not in self.__dict__:
            self._create_project = self._resolve_create_project()
        return self._create_project

    def _resolve_create_project(self) -> Project:
        data = self.request.data
        if not isinstance(data, Mapping):
            # A view with its own parser list may still hand over a JSON string or list.
            raise ParseError(f"The request body must be a JSON object, not {type(data).__name__}.")
        raw = data.get(self.create_project_field)
        if raw in (None, ""):
            raise serializers.ValidationError(
                {self.create_project_field: ["This field is required."]}
            )
        try:
            pk = int(raw)
        except (TypeError, ValueError):
            raise serializers.ValidationError(
                {self.create_project_field: [f"Expected an id, got {raw!r}."]}
            ) from None
        if self.create_project_model is None:
            return get_object_or_404(Project, pk=pk)
        self.create_parent = get_object_or_404(
            self.create_project_model._default_manager.select_related("project"), pk=pk
        )
        return self.create_parent.project


class ProjectScopedViewSet(ProjectScopedMixin, viewsets.ModelViewSet):
    """A model viewset scoped to the caller's projects."""
