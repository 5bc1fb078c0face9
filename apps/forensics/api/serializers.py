"""Serializers of the forensics API: attributions and judge drift reports."""

from __future__ import annotations

from rest_framework import serializers

from apps.datasets.models import ReferenceSet
from apps.drift.models import DriftReport
from apps.forensics.models import Attribution, Blame, JudgeDriftReport
from apps.judging.models import JudgeConfig
from apps.rubrics.models import RubricVersion


class AttributionSerializer(serializers.ModelSerializer):
    """A clause attribution: status, budget and spend, and ``result`` (hunks with ``explained``,
    ``share``, ``share_ci``, ``reproduced``, ``control_moved``, ``p``, ``p_holm``; ``headline``;
    ``interactions``)."""

    class Meta:
        model = Attribution
        fields = [
            "id",
            "project",
            "report",
            "status",
            "budget",
            "control_size",
            "seed",
            "calls",
            "cache_hits",
            "requests",
            "result",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AttributionCreateSerializer(serializers.Serializer):
    """``{report, budget?, control_size?, seed?}``; budget and control size default to the
    settings ``FORENSICS_ATTRIBUTION_BUDGET`` and ``FORENSICS_CONTROL_PAIRS``."""

    report = serializers.PrimaryKeyRelatedField(queryset=DriftReport.objects.all())
    budget = serializers.IntegerField(min_value=0, required=False)
    control_size = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, default=0)


class JudgeDriftReportSerializer(serializers.ModelSerializer):
    """A judge drift report: ``kind`` (``judge`` or ``factorial``), the judges as they were,
    the runs, ``blame`` and ``headline``, and ``stats`` (``comparisons``: each with the drift
    statistics of docs/api.md; ``effects`` for the 2 x 2) with ``flags`` (each with its
    ``comparison`` and ``cause``)."""

    # Empty until the report is ready.
    blame = serializers.ChoiceField(choices=Blame.choices, allow_blank=True, read_only=True)

    class Meta:
        model = JudgeDriftReport
        fields = [
            "id",
            "project",
            "rubric",
            "kind",
            "trigger",
            "status",
            "reference_set",
            "old_version",
            "new_version",
            "old_judge",
            "new_judge",
            "old_judge_state",
            "new_judge_state",
            "run_old",
            "run_new_judge",
            "run_new_rubric",
            "run_both",
            "thresholds",
            "stats",
            "flags",
            "blame",
            "headline",
            "error",
            "accepted_by",
            "accepted_at",
            "acceptance_reason",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class JudgeDriftCreateSerializer(serializers.Serializer):
    """``{old_version, old_judge, new_judge, reference_set, new_version?}``: with
    ``new_version`` the report is the 2 x 2 of both versions x both judges."""

    old_version = serializers.PrimaryKeyRelatedField(queryset=RubricVersion.objects.all())
    new_version = serializers.PrimaryKeyRelatedField(
        queryset=RubricVersion.objects.all(), required=False, allow_null=True
    )
    old_judge = serializers.PrimaryKeyRelatedField(queryset=JudgeConfig.objects.all())
    new_judge = serializers.PrimaryKeyRelatedField(queryset=JudgeConfig.objects.all())
    reference_set = serializers.PrimaryKeyRelatedField(queryset=ReferenceSet.objects.all())


class JudgeDriftAcceptSerializer(serializers.Serializer):
    """``{reason}``: accept the guard's new judge of a flagged (or failed) report (admins)."""

    reason = serializers.CharField(max_length=4000, allow_blank=False)
