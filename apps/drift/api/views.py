"""Drift endpoints: ``/api/drift-reports/``, ``/api/alerts/`` and ``/api/rubrics/{id}/guard/``.

Thin wrappers around the services. Annotators label blind and never see reports or alerts: a
caller who may view alerts in none of their projects gets 403 on the lists (the scoping of
``apps/accounts/viewsets.py``, from each list's capability).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, check_capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.drift import selectors, services
from apps.drift.api.serializers import (
    AlertResolveSerializer,
    AlertSerializer,
    DriftReportCreateSerializer,
    DriftReportDetailSerializer,
    DriftReportSerializer,
    GuardAnchorSerializer,
    RubricGuardSerializer,
)
from apps.drift.filters import AlertFilter, ReportFilter
from apps.drift.models import DriftAlert, DriftReport
from apps.judging.models import JudgingRun
from apps.rubrics.models import Rubric, RubricVersion


class DriftReportViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/drift-reports/``: compare two runs (or two versions) and read the statistics."""

    queryset = DriftReport.objects.select_related("alert").order_by("-created_at", "-id")
    serializer_class = DriftReportSerializer
    filterset_class = ReportFilter
    capabilities = {
        "list": Capability.ALERT_VIEW,
        "retrieve": Capability.ALERT_VIEW,
        "create": Capability.RUN_START,
    }

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return DriftReportDetailSerializer
        return DriftReportSerializer

    def get_create_project(self) -> Project:
        """The project of the runs (or versions) named in the body."""
        data = self.request.data
        for field, model in (
            ("baseline_run", JudgingRun),
            ("candidate_run", JudgingRun),
            ("candidate_version", RubricVersion),
            ("baseline_version", RubricVersion),
        ):
            raw = data.get(field)
            if raw in (None, ""):
                continue
            try:
                pk = int(raw)
            except (TypeError, ValueError):
                raise serializers.ValidationError(
                    {field: [f"Expected an id, got {raw!r}."]}
                ) from None
            obj = get_object_or_404(model, pk=pk)
            project: Project = obj.project  # type: ignore[attr-defined]
            return project
        raise serializers.ValidationError(
            {"baseline_run": ["Send baseline_run and candidate_run, or the two versions."]}
        )

    @extend_schema(request=DriftReportCreateSerializer, responses={202: DriftReportSerializer})
    def create(self, request: Request) -> Response:
        body = DriftReportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "baseline_run" in data:
            baseline, candidate = data["baseline_run"], data["candidate_run"]
            for run in (baseline, candidate):
                check_capability(request.user, run.project, Capability.RUN_START)
            report = services.drift_report_create(
                actor=request.user, baseline_run=baseline, candidate_run=candidate
            )
        else:
            baseline_version, candidate_version = (
                data["baseline_version"],
                data["candidate_version"],
            )
            for version in (baseline_version, candidate_version):
                check_capability(request.user, version.rubric.project, Capability.RUN_START)
            found = services.drift_check_start(
                actor=request.user,
                version=candidate_version,
                baseline=baseline_version,
                judge=data.get("judge"),
                reference_set=data.get("reference_set"),
            )
            assert found is not None  # a baseline is given, so there is always a comparison
            report = found
        answer = DriftReportSerializer(report).data
        answer["url"] = reverse("drift-report-detail", kwargs={"pk": report.pk})
        return Response(answer, status=status.HTTP_202_ACCEPTED)


class AlertViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/alerts/``: filter by ``status``, ``severity``, ``rubric``; admins resolve them."""

    queryset = DriftAlert.objects.select_related("rubric", "version", "resolved_by")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    capabilities = {
        "list": Capability.ALERT_VIEW,
        "retrieve": Capability.ALERT_VIEW,
        "resolve": Capability.ALERT_RESOLVE,
    }

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.order_inbox(super().get_queryset().prefetch_related("deliveries"))

    @extend_schema(request=AlertResolveSerializer, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()
        body = AlertResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resolved = services.alert_resolve(
            actor=request.user,
            alert=alert,
            decision=body.validated_data["decision"],
            reason=body.validated_data["reason"],
        )
        return Response(AlertSerializer(resolved).data)


class RubricGuardView(ProjectScopedMixin, generics.GenericAPIView):
    """``/api/rubrics/{id}/guard/``: read (staff) or set (admins) a rubric's drift guard."""

    queryset = Rubric.objects.select_related("project")
    serializer_class = RubricGuardSerializer
    capabilities = {
        "get": Capability.RUBRIC_VIEW,
        "put": Capability.GUARD_EDIT,
        "patch": Capability.GUARD_EDIT,
    }

    def get(self, request: Request, pk: str) -> Response:
        return Response(RubricGuardSerializer.state(self.get_object()))

    def put(self, request: Request, pk: str) -> Response:
        return self._write(request, partial=False)

    def patch(self, request: Request, pk: str) -> Response:
        return self._write(request, partial=True)

    def _write(self, request: Request, *, partial: bool) -> Response:
        rubric = self.get_object()
        body = RubricGuardSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        guard = selectors.guard_for(rubric)
        current = {
            "enabled": guard.enabled,
            "reference_set": guard.reference_set,
            # A judge waiting for clearance is the one the admin chose last.
            "judge": guard.requested_judge or guard.judge,
            "min_effect": guard.min_effect,
            "tolerance": guard.tolerance,
            "alpha": guard.alpha,
        }
        merged = {**current, **data}
        if not partial:
            # PUT replaces the whole guard: a judge or reference set left out is cleared.
            merged["reference_set"] = data.get("reference_set")
            merged["judge"] = data.get("judge")
        services.rubric_guard_update(actor=request.user, rubric=rubric, **merged)
        return Response(RubricGuardSerializer.state(rubric))


class RubricGuardAnchorView(ProjectScopedMixin, generics.GenericAPIView):
    """``/api/rubrics/{id}/guard/anchor/``: an admin moves the guard's trusted anchor, with a
    reason (audited)."""

    queryset = Rubric.objects.select_related("project")
    serializer_class = GuardAnchorSerializer
    capabilities = {"post": Capability.GUARD_EDIT}

    @extend_schema(request=GuardAnchorSerializer, responses={200: RubricGuardSerializer})
    def post(self, request: Request, pk: str) -> Response:
        rubric = self.get_object()
        body = GuardAnchorSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = RubricVersion.objects.filter(
            pk=body.validated_data["version"], rubric=rubric
        ).first()
        if version is None:
            raise serializers.ValidationError(
                {"version": ["No published version of this rubric has that id."]}
            )
        services.guard_anchor_move(
            actor=request.user,
            rubric=rubric,
            version=version,
            reason=body.validated_data["reason"],
        )
        return Response(RubricGuardSerializer.state(rubric))
