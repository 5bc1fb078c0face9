"""Serializers of the judging API (field names as in docs/api.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import Project
from apps.datasets.models import Dataset, ReferenceSet
from apps.judging import selectors, services
from apps.judging.models import Backend, JudgeConfig, JudgingRun, Judgment
from apps.rubrics.models import RubricVersion


class JudgeConfigSerializer(serializers.ModelSerializer):
    """A judge config. ``api_key_env`` is the *name* of an environment variable, never a key."""

    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    display_name = serializers.SerializerMethodField()
    is_demo = serializers.SerializerMethodField()

    class Meta:
        model = JudgeConfig
        fields = [
            "id",
            "project",
            "name",
            "display_name",
            "is_demo",
            "backend",
            "model",
            "base_url",
            "api_key_env",
            "params",
            "concurrency",
            "requests_per_minute",
            "tokens_per_minute",
            "price_in",
            "price_out",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "display_name", "is_demo", "created_at", "updated_at"]
        validators: list[Any] = []  # the service reports a duplicate name as a field error

    def get_display_name(self, obj: JudgeConfig) -> str:
        return services.judge_label(obj)

    def get_is_demo(self, obj: JudgeConfig) -> bool:
        return obj.backend == Backend.OFFLINE

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys") and {"api_key", "key", "secret"} & set(data.keys()):
            raise serializers.ValidationError(
                {
                    "api_key": [
                        "Keys are never accepted. Put the key in an environment variable of the "
                        "workers and send its name as api_key_env."
                    ]
                }
            )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = services.judge_config_errors(
            backend=attrs.get("backend", ""),
            model=attrs.get("model", ""),
            api_key_env=attrs.get("api_key_env", ""),
            params=attrs.get("params", {}),
            base_url=attrs.get("base_url", "") or "",
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class RunSerializer(serializers.ModelSerializer):
    """A run: status, progress, failures, tokens, cost and (in detail) accuracy."""

    judge_label = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    accuracy = serializers.SerializerMethodField()
    waiting = serializers.SerializerMethodField(
        help_text=(
            "Why an active run is not moving (no worker has reported within the stale window; "
            "who consumes its queue), or null while a worker is at work or the run has ended."
        )
    )

    class Meta:
        model = JudgingRun
        fields = [
            "id",
            "project",
            "rubric_version",
            "judge",
            "judge_label",
            "reference_set",
            "dataset",
            "purpose",
            "status",
            "done",
            "total",
            "failed",
            "cached",
            "tokens_in",
            "tokens_out",
            "cost",
            "saved_tokens",
            "saved_cost",
            "use_cache",
            "check_override",
            "progress",
            "error",
            "waiting",
            "accuracy",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_judge_label(self, obj: JudgingRun) -> str:
        return services.judge_label(obj.judge)

    def get_progress(self, obj: JudgingRun) -> dict[str, Any]:
        progress = selectors.run_progress(obj)
        return {
            "percent": round(progress.percent, 2),
            "finished": progress.finished,
            "throughput": progress.throughput,
            "eta_s": progress.eta_s,
            "elapsed_s": progress.elapsed_s,
        }

    def get_waiting(self, obj: JudgingRun) -> str | None:
        return selectors.run_waiting(obj)

    def get_accuracy(self, obj: JudgingRun) -> dict[str, Any] | None:
        # Lists show the stored summary only; computing it for every row would read every run.
        if self.context.get("detail"):
            return selectors.run_accuracy(obj)
        return obj.summary


class RunStartSerializer(serializers.Serializer):
    """``POST /api/runs/``: ``{rubric_version, judge, reference_set | dataset}``."""

    rubric_version = serializers.PrimaryKeyRelatedField(queryset=RubricVersion.objects.all())
    judge = serializers.PrimaryKeyRelatedField(queryset=JudgeConfig.objects.all())
    reference_set = serializers.PrimaryKeyRelatedField(
        queryset=ReferenceSet.objects.all(), required=False, allow_null=True
    )
    dataset = serializers.PrimaryKeyRelatedField(
        queryset=Dataset.objects.all(), required=False, allow_null=True
    )
    use_cache = serializers.BooleanField(required=False, default=True)
    check_override = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=2000,
        help_text="A reason to start although the judge's last check failed (audited).",
    )

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
            fields["reference_set"].queryset = ReferenceSet.objects.filter(project__in=projects)
            fields["dataset"].queryset = Dataset.objects.filter(project__in=projects)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("reference_set") is None) == (attrs.get("dataset") is None):
            raise serializers.ValidationError(
                {"reference_set": ["Give either a reference set or a dataset."]}
            )
        return attrs


class RunCreatedSerializer(serializers.Serializer):
    """The 202 answer to a run start."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    total = serializers.IntegerField()
    url = serializers.CharField()


class JudgmentSerializer(serializers.ModelSerializer):
    """A judge's answer for one pair in one order; ``verdict`` is in the pair's own A/B terms."""

    # Annotated by the view (``pair__domain``), so the pair's texts are never loaded.
    domain = serializers.CharField(read_only=True)

    class Meta:
        model = Judgment
        fields = [
            "id",
            "run",
            "pair",
            "domain",
            "order",
            "status",
            "verdict",
            "p_first",
            "rationale",
            "criteria",
            "tokens_in",
            "tokens_out",
            "latency_ms",
            "queue_ms",
            "verdict_source",
            "attempts",
            "error",
            "cached",
        ]
        read_only_fields = fields
