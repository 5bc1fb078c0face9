"""Judging endpoints (``/api/judges/``, ``/api/runs/``): thin wrappers around the services."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import Capability, check_capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.core.api import accepted
from apps.judging import services
from apps.judging.api.serializers import (
    JudgeConfigSerializer,
    JudgmentSerializer,
    RunCreatedSerializer,
    RunSerializer,
    RunStartSerializer,
)
from apps.judging.filters import JudgmentFilter, RunFilter
from apps.judging.models import JudgeConfig, JudgingRun, Judgment, JudgmentStatus, Verdict


class JudgeViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/judges/``: judge configs. Keys are never accepted: send ``api_key_env``."""

    queryset = JudgeConfig.objects.order_by("project", "name")
    serializer_class = JudgeConfigSerializer
    filterset_fields = ["project", "backend"]
    capabilities = {
        "list": Capability.RUN_VIEW,
        "retrieve": Capability.RUN_VIEW,
        "create": Capability.RUN_START,
    }

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        project = data.pop("project")
        check_capability(self.request.user, project, Capability.RUN_START)
        serializer.instance = services.judge_config_create(
            actor=self.request.user, project=project, **data
        )


class RunViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/runs/``: start (202 at once), follow, cancel, resume, and read a run's judgments."""

    queryset = JudgingRun.objects.select_related("judge", "project").order_by("-created_at")
    serializer_class = RunSerializer
    filterset_class = RunFilter
    create_project_field = "judge"
    create_project_model = JudgeConfig
    capabilities = {
        "list": Capability.RUN_VIEW,
        "retrieve": Capability.RUN_VIEW,
        "judgments": Capability.RUN_VIEW,
        "create": Capability.RUN_START,
        "cancel": Capability.RUN_START,
        "resume": Capability.RUN_START,
    }

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Run filters apply to the list; ``judgments`` has its own (``status`` means another thing).
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context["detail"] = self.action in ("retrieve", "cancel", "resume")
        return context

    @extend_schema(request=RunStartSerializer, responses={202: RunCreatedSerializer})
    def create(self, request: Request) -> Response:
        body = RunStartSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        judge: JudgeConfig = data["judge"]
        check_capability(request.user, judge.project, Capability.RUN_START)
        run = services.run_start(
            actor=request.user,
            rubric_version=data["rubric_version"],
            judge=judge,
            reference_set=data.get("reference_set"),
            dataset=data.get("dataset"),
            use_cache=data.get("use_cache", True),
            check_override=data.get("check_override", ""),
        )
        return accepted(run, "run-detail", total=run.total)

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = services.run_cancel(actor=request.user, run=self.get_object())
        return Response(self.get_serializer(run).data)

    @extend_schema(
        request=None,
        responses={200: RunSerializer},
        description=(
            "Send again the chunks of an active run that nobody works on: chunks whose claim "
            "has gone silent for the stale window are released, and every pending chunk is "
            "dispatched again. Chunks still at work keep their claim. 409 once the run has ended."
        ),
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        services.run_resume(actor=request.user, run=run)
        run.refresh_from_db()
        return Response(self.get_serializer(run).data)

    @extend_schema(
        responses={200: JudgmentSerializer(many=True)},
        parameters=[
            OpenApiParameter("order", str, enum=["AB", "BA"]),
            OpenApiParameter("verdict", str, enum=[v.value for v in Verdict]),
            OpenApiParameter("status", str, enum=[s.value for s in JudgmentStatus]),
            OpenApiParameter("domain", str),
            OpenApiParameter("pair", int),
            OpenApiParameter("cached", bool),
            OpenApiParameter("page", int),
        ],
    )
    @action(detail=True, methods=["get"])
    def judgments(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        queryset = (
            Judgment.objects.filter(run=run)
            .annotate(domain=F("pair__domain"))
            .order_by("pair_id", "order")
        )
        filtered = JudgmentFilter(request.query_params, queryset=queryset)
        if not filtered.is_valid():
            raise serializers.ValidationError(filtered.errors)
        page = self.paginate_queryset(filtered.qs)
        data = JudgmentSerializer(page, many=True).data
        return self.get_paginated_response(data)
