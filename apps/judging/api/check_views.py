"""``/api/judge-checks/``: check a judge, read what the check found, apply its recommendations."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, check_capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.core.api import accepted
from apps.judging import check as checks
from apps.judging.models import JudgeCheck, JudgeConfig


class FindingSerializer(serializers.Serializer):
    """What a check found, in words; ``severity`` is ``fail`` or ``warning``."""

    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=["fail", "warning"])
    message = serializers.CharField()


class RecommendationSerializer(serializers.Serializer):
    """A change of the judge config that fixes a finding: ``changes`` holds ``params`` (merged
    into the judge's params), ``concurrency`` or ``model``."""

    code = serializers.CharField()
    title = serializers.CharField()
    why = serializers.CharField()
    changes = serializers.DictField()


class JudgeCheckSerializer(serializers.ModelSerializer):
    """A judge check: status, figures (``metrics``), findings and recommendations."""

    findings = FindingSerializer(many=True, read_only=True)
    recommendations = RecommendationSerializer(many=True, read_only=True)

    class Meta:
        model = JudgeCheck
        fields = [
            "id",
            "project",
            "judge",
            "status",
            "config",
            "metrics",
            "findings",
            "recommendations",
            "error",
            "applied_at",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class JudgeCheckStartSerializer(serializers.Serializer):
    """``POST /api/judge-checks/``: ``{judge}``."""

    judge = serializers.PrimaryKeyRelatedField(queryset=JudgeConfig.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            fields: Any = self.fields
            fields["judge"].queryset = JudgeConfig.objects.filter(
                project__in=Project.objects.for_user(request.user)
            )


class JudgeCheckApplySerializer(serializers.Serializer):
    """``POST /api/judge-checks/{id}/apply/``: the recommendations to apply (all when absent)."""

    codes = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False)


class JudgeCheckStartedSerializer(serializers.Serializer):
    """The 202 answer: the check that was started and where to follow it."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()


def _started(check: JudgeCheck) -> Response:
    return accepted(check, "judge-check-detail")


class JudgeCheckViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Judge checks. A check runs on a worker: start it (202), then read it until it ends."""

    queryset = JudgeCheck.objects.order_by("-created_at", "-pk")
    serializer_class = JudgeCheckSerializer
    filterset_fields = ["project", "judge", "status"]
    create_project_field = "judge"
    create_project_model = JudgeConfig
    capabilities = {
        "list": Capability.RUN_VIEW,
        "retrieve": Capability.RUN_VIEW,
        "create": Capability.RUN_START,
        "apply": Capability.RUN_START,
    }

    @extend_schema(request=JudgeCheckStartSerializer, responses={202: JudgeCheckStartedSerializer})
    def create(self, request: Request) -> Response:
        body = JudgeCheckStartSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        judge: JudgeConfig = body.validated_data["judge"]
        check_capability(request.user, judge.project, Capability.RUN_START)
        return _started(checks.judge_check_start(actor=request.user, judge=judge))

    @extend_schema(request=JudgeCheckApplySerializer, responses={202: JudgeCheckStartedSerializer})
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        """Apply the check's recommendations to its judge, then check the judge again."""
        check = self.get_object()
        body = JudgeCheckApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        judge = checks.judge_check_apply(
            actor=request.user, check=check, codes=body.validated_data.get("codes")
        )
        return _started(checks.judge_check_start(actor=request.user, judge=judge))
