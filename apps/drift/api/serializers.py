"""Serializers of the drift API (field names as in docs/api.md "drift report" and "alert")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.datasets.models import ReferenceSet
from apps.drift import selectors
from apps.drift.models import DriftAlert, DriftReport, WebhookDelivery
from apps.drift.selectors import guard_judge_watch
from apps.drift.services import DECISIONS, guard_state
from apps.judging.models import JudgeConfig, JudgingRun
from apps.rubrics.models import Rubric, RubricVersion


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One webhook message and how its delivery went."""

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "url",
            "status",
            "attempts",
            "response_code",
            "last_error",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    """An alert: ``id, report, rubric, version, severity, status, reason, resolved_by,
    resolved_at`` (docs/api.md), plus the headline and the webhook deliveries."""

    resolved_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    rubric_name = serializers.CharField(source="rubric.name", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    deliveries = WebhookDeliverySerializer(many=True, read_only=True)
    lineage = serializers.SerializerMethodField()

    class Meta:
        model = DriftAlert
        fields = [
            "id",
            "project",
            "report",
            "rubric",
            "rubric_name",
            "version",
            "version_number",
            "severity",
            "status",
            "headline",
            "reason",
            "resolved_by",
            "resolved_at",
            "created_at",
            "deliveries",
            "lineage",
        ]
        read_only_fields = fields

    def get_lineage(self, obj: DriftAlert) -> str:
        """ "forked from v2, blocked by alert 1: <reason>" for a descendant of a blocked version."""
        return selectors.blocked_ancestry(obj.version)


class AlertResolveSerializer(serializers.Serializer):
    """``{decision: approve|block|acknowledge, reason}``; approve needs a reason."""

    decision = serializers.ChoiceField(choices=list(DECISIONS))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class DriftReportSerializer(serializers.ModelSerializer):
    """A drift report (list form): status, runs, thresholds, overall statistics and flags."""

    overall = serializers.SerializerMethodField()
    severity = serializers.SerializerMethodField()
    alert = serializers.SerializerMethodField()
    drift_status = serializers.SerializerMethodField()
    lineage = serializers.SerializerMethodField()

    class Meta:
        model = DriftReport
        fields = [
            "id",
            "project",
            "status",
            "drift_status",
            "trigger",
            "rubric",
            "baseline_version",
            "candidate_version",
            "baseline_run",
            "candidate_run",
            "repeat_run",
            "reference_set",
            "judge",
            "thresholds",
            "overall",
            "flags",
            "severity",
            "alert",
            "error",
            "lineage",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_lineage(self, obj: DriftReport) -> str:
        """ "forked from v2, blocked by alert 1: <reason>" for a descendant of a blocked version."""
        return selectors.blocked_ancestry(obj.candidate_version)

    def get_overall(self, obj: DriftReport) -> dict[str, Any]:
        return obj.overall

    def get_severity(self, obj: DriftReport) -> str | None:
        value = obj.stats.get("severity")
        return str(value) if value else None

    def get_alert(self, obj: DriftReport) -> int | None:
        alert = selectors.report_alert(obj)
        return alert.pk if alert is not None else None

    def get_drift_status(self, obj: DriftReport) -> str:
        return selectors.report_drift_status(obj)


class DriftReportDetailSerializer(DriftReportSerializer):
    """A drift report with everything: per-domain statistics, the flipped pairs, the method."""

    by_domain = serializers.SerializerMethodField()
    flipped = serializers.SerializerMethodField()
    bootstrap = serializers.SerializerMethodField()
    pairs_compared = serializers.SerializerMethodField()
    pairs_unmatched = serializers.SerializerMethodField()
    family = serializers.SerializerMethodField()
    direction_notes = serializers.SerializerMethodField()
    judge_question = serializers.SerializerMethodField()

    class Meta(DriftReportSerializer.Meta):
        fields = [
            *DriftReportSerializer.Meta.fields,
            "by_domain",
            "flipped",
            "bootstrap",
            "pairs_compared",
            "pairs_unmatched",
            "family",
            "direction_notes",
            "judge_question",
        ]
        read_only_fields = fields

    def get_by_domain(self, obj: DriftReport) -> dict[str, Any]:
        return obj.by_domain

    def get_flipped(self, obj: DriftReport) -> list[dict[str, Any]]:
        return list(obj.stats.get("flipped") or [])

    def get_bootstrap(self, obj: DriftReport) -> dict[str, Any] | None:
        return obj.stats.get("bootstrap")

    def get_pairs_compared(self, obj: DriftReport) -> int | None:
        return obj.stats.get("pairs_compared")

    def get_pairs_unmatched(self, obj: DriftReport) -> int | None:
        return obj.stats.get("pairs_unmatched")

    def get_family(self, obj: DriftReport) -> dict[str, Any] | None:
        """Every test that can open an alert: ``{alpha, method, tests: [{test, domain, p,
        p_adjusted, weight, survived}]}``; None on reports made before it was recorded."""
        return obj.stats.get("family")

    def get_direction_notes(self, obj: DriftReport) -> list[dict[str, Any]]:
        """Direction tests significant on their own that did not survive the family: not alerts."""
        return list(obj.stats.get("direction_notes") or [])

    def get_judge_question(self, obj: DriftReport) -> dict[str, Any] | None:
        """Rubric or judge? ``{judge: held|moved|unknown, sentence, changes, split}``; ``split``
        is the 2 x 2 (or the judge alone, rubric held) started when the judge moved between the
        runs: ``{report, kind, rubric, status, link, blame, headline, flags, error}``, None until it
        exists. None for a report without runs."""
        return selectors.report_judge_question(obj)


class DriftReportCreateSerializer(serializers.Serializer):
    """``{baseline_run, candidate_run}``, or ``{baseline_version, candidate_version, judge,
    reference_set}`` (judge and reference set default to the candidate rubric's drift guard;
    the judge may be given by id or by name)."""

    baseline_run = serializers.PrimaryKeyRelatedField(
        queryset=JudgingRun.objects.all(), required=False
    )
    candidate_run = serializers.PrimaryKeyRelatedField(
        queryset=JudgingRun.objects.all(), required=False
    )
    baseline_version = serializers.PrimaryKeyRelatedField(
        queryset=RubricVersion.objects.all(), required=False
    )
    candidate_version = serializers.PrimaryKeyRelatedField(
        queryset=RubricVersion.objects.all(), required=False
    )
    judge = serializers.CharField(required=False, allow_blank=True)
    reference_set = serializers.PrimaryKeyRelatedField(
        queryset=ReferenceSet.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        runs = "baseline_run" in attrs or "candidate_run" in attrs
        versions = "baseline_version" in attrs or "candidate_version" in attrs
        if runs == versions:
            raise serializers.ValidationError(
                "Send either baseline_run and candidate_run, or baseline_version and "
                "candidate_version (with judge and reference_set, or the rubric's guard)."
            )
        pair = (
            ("baseline_run", "candidate_run") if runs else ("baseline_version", "candidate_version")
        )
        missing = {name: ["This field is required."] for name in pair if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        if versions:
            attrs["judge"] = self._judge(attrs)
        return attrs

    def _judge(self, attrs: dict[str, Any]) -> JudgeConfig | None:
        raw = (attrs.get("judge") or "").strip()
        if not raw:
            return None
        project_id = attrs["candidate_version"].rubric.project_id
        judges = JudgeConfig.objects.filter(project_id=project_id)
        found = judges.filter(pk=int(raw)).first() if raw.isdigit() else None
        found = found or judges.filter(name=raw).first()
        if found is None:
            raise serializers.ValidationError({"judge": [f"No judge {raw!r} in this project."]})
        return found


class RubricGuardSerializer(serializers.Serializer):
    """A rubric's drift guard. Thresholds are proportions (0.02 = 2 accuracy points)."""

    rubric = serializers.IntegerField(read_only=True)
    enabled = serializers.BooleanField()
    reference_set = serializers.PrimaryKeyRelatedField(
        queryset=ReferenceSet.objects.all(), allow_null=True, required=False
    )
    judge = serializers.PrimaryKeyRelatedField(
        queryset=JudgeConfig.objects.all(), allow_null=True, required=False
    )
    min_effect = serializers.FloatField(min_value=0, max_value=1)
    tolerance = serializers.FloatField(min_value=0, max_value=1)
    alpha = serializers.FloatField(min_value=0, max_value=1)
    anchor = serializers.IntegerField(read_only=True, allow_null=True)
    anchor_number = serializers.IntegerField(read_only=True, allow_null=True)
    anchor_reason = serializers.CharField(read_only=True)
    anchor_set_at = serializers.DateTimeField(read_only=True, allow_null=True)
    requested_judge = serializers.IntegerField(read_only=True, allow_null=True)
    judge_watch = serializers.DictField(
        read_only=True,
        help_text="The judge in use, a requested or edited judge with its clearance (cleared, "
        "reason, report, flagged, link) and whether checks wait.",
    )

    @staticmethod
    def state(rubric: Rubric) -> dict[str, Any]:
        """The guard of ``rubric`` in this serializer's shape."""
        guard = selectors.guard_for(rubric)
        return {"rubric": rubric.pk, **guard_state(guard), "judge_watch": guard_judge_watch(guard)}


class GuardAnchorSerializer(serializers.Serializer):
    """``{version, reason}``: pin the guard's trusted anchor on a published version (admins)."""

    version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=4000, allow_blank=False)
