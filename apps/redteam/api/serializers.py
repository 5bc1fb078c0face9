"""Serializers of the red-team API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import Project
from apps.datasets.models import ReferenceSet
from apps.judging.models import JudgeConfig
from apps.redteam import selectors
from apps.redteam.models import RedTeamJob
from apps.rubrics.models import RubricVersion


class RedTeamJobSerializer(serializers.ModelSerializer):
    """A red team: its request, where it stands, and (once done) its result.

    ``result`` holds ``frontier`` (per generation), ``selection`` (val), ``benign_band`` (val,
    per domain), ``test`` (the drift report of the attack on the test split: ``target`` and
    ``benchmark`` scopes and the per-domain ``report``) and ``verdict`` (``drifts``/``robust``).
    """

    robustness = serializers.SerializerMethodField()

    class Meta:
        model = RedTeamJob
        fields = [
            "id",
            "project",
            "rubric_version",
            "judge",
            "editor",
            "poison_feedback",
            "reference_set",
            "benchmark_reference_set",
            "targets",
            "generations",
            "population",
            "children",
            "sample_size",
            "max_judge_calls",
            "cost_cap",
            "tolerance",
            "selection_tolerance",
            "benign_k",
            "seed",
            "status",
            "phase",
            "generation",
            "split",
            "candidates",
            "best_fitness",
            "judge_calls",
            "cached_calls",
            "editor_calls",
            "tokens_in",
            "tokens_out",
            "cost",
            "stop_reason",
            "best",
            "draft_version",
            "result",
            "robustness",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_robustness(self, obj: RedTeamJob) -> str | None:
        return selectors.robustness_line(obj) if obj.status == "succeeded" else None


class RedTeamStartSerializer(serializers.Serializer):
    """``POST /api/redteams/``: the seed version, judge, reference set, targets and budget.

    ``editor``: omitted or null for the deterministic editor, else the id of an OpenAI-compatible
    judge config used as the rewriter.
    """

    rubric_version = serializers.PrimaryKeyRelatedField(queryset=RubricVersion.objects.all())
    judge = serializers.PrimaryKeyRelatedField(queryset=JudgeConfig.objects.all())
    reference_set = serializers.PrimaryKeyRelatedField(queryset=ReferenceSet.objects.all())
    targets = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1)
    benchmark_reference_set = serializers.PrimaryKeyRelatedField(
        queryset=ReferenceSet.objects.all(), required=False, allow_null=True
    )
    editor = serializers.PrimaryKeyRelatedField(
        queryset=JudgeConfig.objects.all(), required=False, allow_null=True
    )
    poison_feedback = serializers.BooleanField(required=False, default=False)
    generations = serializers.IntegerField(required=False, default=5, min_value=1, max_value=50)
    population = serializers.IntegerField(required=False, default=10, min_value=1, max_value=50)
    children = serializers.IntegerField(required=False, default=4, min_value=1, max_value=10)
    sample_size = serializers.IntegerField(
        required=False, default=200, min_value=1, max_value=100_000
    )
    max_judge_calls = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    cost_cap = serializers.DecimalField(
        required=False, allow_null=True, max_digits=14, decimal_places=6, min_value=0
    )
    tolerance = serializers.FloatField(required=False, default=0.05, min_value=0, max_value=1)
    selection_tolerance = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=1
    )
    benign_k = serializers.IntegerField(required=False, default=4, min_value=0, max_value=20)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Objects of projects the caller cannot see do not exist, as far as the API says.
            projects = Project.objects.for_user(request.user)
            fields: Any = self.fields
            fields["rubric_version"].queryset = RubricVersion.objects.filter(
                rubric__project__in=projects
            )
            fields["judge"].queryset = JudgeConfig.objects.filter(project__in=projects)
            fields["editor"].queryset = JudgeConfig.objects.filter(project__in=projects)
            fields["reference_set"].queryset = ReferenceSet.objects.filter(project__in=projects)
            fields["benchmark_reference_set"].queryset = ReferenceSet.objects.filter(
                project__in=projects
            )


class RedTeamCreatedSerializer(serializers.Serializer):
    """The 202 answer to a red-team start."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    split = serializers.DictField()
    url = serializers.CharField()
