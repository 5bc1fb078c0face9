"""Forensics endpoints: ``/api/attributions/`` and ``/api/judge-drift-reports/``.

Thin wrappers around the services. Like drift reports, they are visible to the roles that see
alerts; starting one needs ``run.start``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import Capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.datasets.models import ReferenceSet
from apps.drift.models import DriftReport
from apps.forensics import services
from apps.forensics.api.serializers import (
    AttributionCreateSerializer,
    AttributionSerializer,
    JudgeDriftAcceptSerializer,
    JudgeDriftCreateSerializer,
    JudgeDriftReportSerializer,
)
from apps.forensics.models import Attribution, JudgeDriftReport


class AttributionViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/attributions/``: which hunks of a rubric edit caused a drift report's flips."""

    queryset = Attribution.objects.order_by("-created_at", "-id")
    serializer_class = AttributionSerializer
    filterset_fields = ["report", "status"]
    create_project_field = "report"
    create_project_model = DriftReport
    capabilities = {
        "list": Capability.ALERT_VIEW,
        "retrieve": Capability.ALERT_VIEW,
        "create": Capability.RUN_START,
    }

    @extend_schema(request=AttributionCreateSerializer, responses={202: AttributionSerializer})
    def create(self, request: Request) -> Response:
        body = AttributionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = services.attribution_start(
            actor=request.user,
            report=self.create_parent or data["report"],
            budget=data.get("budget"),
            control_size=data.get("control_size"),
            seed=data["seed"],
        )
        job.refresh_from_db()
        return Response(AttributionSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JudgeDriftReportViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/judge-drift-reports/``: one rubric version under two judges, or the 2 x 2."""

    queryset = JudgeDriftReport.objects.order_by("-created_at", "-id")
    serializer_class = JudgeDriftReportSerializer
    filterset_fields = ["rubric", "kind", "status", "blame"]
    create_project_field = "reference_set"
    create_project_model = ReferenceSet
    capabilities = {
        "list": Capability.ALERT_VIEW,
        "retrieve": Capability.ALERT_VIEW,
        "create": Capability.RUN_START,
        "accept": Capability.GUARD_EDIT,
    }

    @extend_schema(request=JudgeDriftCreateSerializer, responses={202: JudgeDriftReportSerializer})
    def create(self, request: Request) -> Response:
        body = JudgeDriftCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        report = services.judge_drift_start(
            actor=request.user,
            old_version=data["old_version"],
            new_version=data.get("new_version"),
            old_judge=data["old_judge"],
            new_judge=data["new_judge"],
            reference_set=data["reference_set"],
        )
        report.refresh_from_db()
        return Response(JudgeDriftReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=JudgeDriftAcceptSerializer, responses={200: JudgeDriftReportSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        """An admin accepts a guard's new judge despite the report's flags, with a reason."""
        body = JudgeDriftAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = services.guard_judge_accept(
            actor=request.user, report=self.get_object(), reason=body.validated_data["reason"]
        )
        return Response(JudgeDriftReportSerializer(report).data)
