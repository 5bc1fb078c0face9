"""Rubric endpoints: thin wrappers around ``services`` and ``selectors``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import Capability, check_capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.core.parsers import CheckedFormParser, CheckedMultiPartParser, ObjectJSONParser
from apps.rubrics import selectors, services
from apps.rubrics.api.serializers import (
    DraftCreateSerializer,
    DraftUpdateSerializer,
    ImportSerializer,
    LabelSerializer,
    PromoteSerializer,
    PromotionRefusedSerializer,
    PublishSerializer,
    RubricImportResultSerializer,
    RubricSerializer,
    RubricVersionSerializer,
)
from apps.rubrics.exporting import export_version
from apps.rubrics.models import Rubric, RubricVersion, VersionStatus


class FormatIsAParameter(DefaultContentNegotiation):
    """``?format=`` names the export format here, not a DRF renderer."""

    def select_renderer(
        self, request: Any, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class RubricViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/rubrics/``: rubrics, their versions, import and label moves (promotion)."""

    queryset = Rubric.objects.prefetch_related("labels__version", "labels__moved_by").order_by(
        "project", "name"
    )
    serializer_class = RubricSerializer
    filterset_fields = ["project", "slug"]
    capabilities = {
        "list": Capability.RUBRIC_VIEW,
        "retrieve": Capability.RUBRIC_VIEW,
        "create": Capability.RUBRIC_EDIT,
        "versions": Capability.RUBRIC_VIEW,
        "versions_create": Capability.RUBRIC_EDIT,
        "promote": Capability.RUBRIC_PROMOTE,
        "import_file": Capability.RUBRIC_EDIT,
    }

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = services.rubric_create(
            actor=self.request.user,
            project=self.get_create_project(),
            name=data["name"],
            description=data.get("description", ""),
        )

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(VersionStatus.values))],
        responses={200: RubricVersionSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        """The rubric's versions, oldest first; ``?status=draft|published`` filters."""
        rubric = self.get_object()
        queryset = rubric.versions.prefetch_related("criteria", "labels").select_related("author")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in VersionStatus.values:
                raise serializers.ValidationError({"status": ["Use draft or published."]})
            queryset = queryset.filter(status=wanted)
        page = self.paginate_queryset(queryset.order_by("number"))
        data = RubricVersionSerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(request=DraftCreateSerializer, responses={201: RubricVersionSerializer})
    @versions.mapping.post
    def versions_create(self, request: Request, pk: str) -> Response:
        """Make a draft (a fork of ``parent``, by default the newest published version)."""
        rubric = self.get_object()
        body = DraftCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        kwargs: dict[str, Any] = {}
        if "parent" in data:
            kwargs["parent"] = (
                None
                if data["parent"] is None
                else get_object_or_404(RubricVersion, pk=data["parent"], rubric=rubric)
            )
        version = services.rubric_version_create(
            actor=request.user,
            rubric=rubric,
            instructions=data.get("instructions"),
            template=data.get("template"),
            output_format=data.get("output_format"),
            criteria=data.get("criteria"),
            message=data.get("message", data.get("notes", "")),
            **kwargs,
        )
        return Response(RubricVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PromoteSerializer,
        responses={
            200: LabelSerializer,
            409: OpenApiResponse(
                response=PromotionRefusedSerializer,
                description=(
                    "Refused: a draft, or a promotion check (the drift gate) said no. ``detail`` "
                    "says why, ``code`` names the rule, ``links`` point at the alert or report."
                ),
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, pk: str) -> Response:
        """Move a label (``production`` by default) to a published version of this rubric."""
        rubric = self.get_object()
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = get_object_or_404(RubricVersion, pk=body.validated_data["version"], rubric=rubric)
        label = services.rubric_label_move(
            actor=request.user, rubric=rubric, version=version, label=body.validated_data["label"]
        )
        return Response(LabelSerializer(label).data)

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={201: RubricImportResultSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[CheckedMultiPartParser, CheckedFormParser, ObjectJSONParser],
    )
    def import_file(self, request: Request) -> Response:
        """Import a rubric file: our JSON/YAML export or a RIPD JSONL lineage of prompts.

        201 ``{rubric, created_rubric, versions}``, or 400 ``{errors: [{line, field, message}]}``
        with nothing imported.
        """
        # The role is checked before the body is read, so a refused caller learns nothing.
        project = self.get_create_project()
        check_capability(request.user, project, Capability.RUBRIC_EDIT)
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rubric = None
        if data.get("rubric"):
            rubric = get_object_or_404(Rubric, pk=data["rubric"], project=project)
        upload = data["file"]
        try:
            result = services.rubric_import(
                actor=request.user,
                project=project,
                filename=upload.name or "",
                data=upload.read(),
                name=data.get("name") or None,
                rubric=rubric,
                publish=data.get("publish", False),
            )
        except services.ImportFailed as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "rubric": RubricSerializer(result.rubric).data,
                "created_rubric": result.created_rubric,
                "versions": RubricVersionSerializer(result.versions, many=True).data,
            },
            status=status.HTTP_201_CREATED,
        )


class RubricVersionViewSet(ProjectScopedMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``/api/rubric-versions/{id}/``: read, edit a draft, publish, diff, export."""

    queryset = RubricVersion.objects.select_related("rubric", "author", "parent").prefetch_related(
        "criteria", "labels"
    )
    serializer_class = RubricVersionSerializer
    project_lookup = "rubric__project"
    capabilities = {
        "retrieve": Capability.RUBRIC_VIEW,
        "partial_update": Capability.RUBRIC_EDIT,
        "publish": Capability.RUBRIC_EDIT,
        "diff": Capability.RUBRIC_VIEW,
        "export": Capability.RUBRIC_VIEW,
    }

    def handle_exception(self, exc: Exception) -> Response:
        """A stale write answers 409 with both revisions and both texts (numbers as numbers)."""
        if isinstance(exc, services.StaleRevision):
            body = {
                **exc.payload,
                "current": RubricVersionSerializer(_fresh(exc.version)).data,
                "yours": dict(self.request.data),
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    @extend_schema(request=DraftUpdateSerializer, responses={200: RubricVersionSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change a draft. Send the ``revision`` you read: a stale one gets 409 and both."""
        version = self.get_object()
        if version.is_published:
            raise services.VersionNotDraft(version)
        body = DraftUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        updated = services.rubric_version_update(
            actor=request.user,
            version=version,
            revision=data["revision"],
            instructions=data.get("instructions"),
            template=data.get("template"),
            output_format=data.get("output_format"),
            message=data.get("message", data.get("notes")),
            criteria=data.get("criteria"),
        )
        return Response(RubricVersionSerializer(_fresh(updated)).data)

    @extend_schema(request=PublishSerializer, responses={200: RubricVersionSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        """Freeze the draft with a change message."""
        version = self.get_object()
        body = PublishSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        published = services.rubric_version_publish(
            actor=request.user,
            version=version,
            message=body.validated_data["message"],
            revision=body.validated_data.get("revision"),
        )
        return Response(RubricVersionSerializer(_fresh(published)).data)

    @extend_schema(
        parameters=[OpenApiParameter("against", int, description="default: the parent")],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request: Request, pk: str) -> Response:
        """Structured diff from ``against`` (default: the parent) to this version."""
        version = self.get_object()
        against = request.query_params.get("against")
        old: RubricVersion | None
        if against:
            try:
                against_pk = int(against)
            except ValueError:
                raise serializers.ValidationError({"against": ["Expected a version id."]}) from None
            old = get_object_or_404(
                RubricVersion, pk=against_pk, rubric__project_id=version.rubric.project_id
            )
        else:
            old = selectors.diff_base(version=version)
        diff = selectors.versions_diff(old=old, new=version)
        return Response({"version": version.pk, "against": old.pk if old else None, **diff})

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "yaml", "md"])],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/yaml"): OpenApiTypes.STR,
            (200, "text/markdown"): OpenApiTypes.STR,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FormatIsAParameter)
    def export(self, request: Request, pk: str) -> HttpResponse:
        """Download the version as JSON, YAML or Markdown."""
        version = self.get_object()
        return export_version(version=version, fmt=request.query_params.get("format", "json"))


def _fresh(version: RubricVersion) -> RubricVersion:
    return RubricVersion.objects.prefetch_related("criteria", "labels").get(pk=version.pk)
