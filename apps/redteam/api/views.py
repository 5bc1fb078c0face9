"""Red-team endpoints (``/api/redteams/``): thin wrappers around the services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import Capability, check_capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.core.api import accepted
from apps.judging.models import JudgeConfig
from apps.redteam import services
from apps.redteam.api.serializers import (
    RedTeamCreatedSerializer,
    RedTeamJobSerializer,
    RedTeamStartSerializer,
)
from apps.redteam.models import RedTeamJob


class RedTeamViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/redteams/``: start a red team (202 at once), follow it, cancel it."""

    queryset = RedTeamJob.objects.order_by("-created_at", "-id")
    serializer_class = RedTeamJobSerializer
    filterset_fields = ["project", "rubric_version", "status"]
    create_project_field = "judge"
    create_project_model = JudgeConfig
    capabilities = {
        "list": Capability.RUN_VIEW,
        "retrieve": Capability.RUN_VIEW,
        "create": Capability.REDTEAM_START,
        "cancel": Capability.REDTEAM_START,
    }

    @extend_schema(request=RedTeamStartSerializer, responses={202: RedTeamCreatedSerializer})
    def create(self, request: Request) -> Response:
        body = RedTeamStartSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        judge: JudgeConfig = data.pop("judge")
        check_capability(request.user, judge.project, Capability.REDTEAM_START)
        job = services.redteam_start(actor=request.user, judge=judge, **data)
        return accepted(job, "redteam-detail", split=job.split)

    @extend_schema(request=None, responses={200: RedTeamJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = services.job_cancel(actor=request.user, job=self.get_object())
        return Response(self.get_serializer(job).data)
