"""Shapes of annotation queues, the annotator's next pair and annotations (see docs/api.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.annotations import selectors
from apps.annotations.models import Annotation, AnnotationQueue
from apps.datasets.api.serializers import PairSerializer
from apps.datasets.models import GoldLabel, Pair


class AnnotationQueueSerializer(serializers.ModelSerializer):
    """A queue as clients read it; ``annotators`` are usernames."""

    annotators: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True
    )
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    progress = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationQueue
        fields = [
            "id",
            "project",
            "name",
            "dataset",
            "domains",
            "rubric_version",
            "overlap",
            "min_agreement",
            "instructions",
            "annotators",
            "created_by",
            "created_at",
            "progress",
        ]
        read_only_fields = fields

    def get_progress(self, queue: AnnotationQueue) -> dict[str, int]:
        """The queue's labels done and needed (pairs x overlap) and pairs with all labels.

        A list passes every queue's progress in the context (``progress``), computed at once.
        """
        batch = self.context.get("progress") or {}
        return batch.get(queue.pk) or selectors.queue_progress(queue=queue)


class AnnotationQueueCreateSerializer(serializers.Serializer):
    """``{project, dataset, rubric_version?, overlap, annotators, name?, domains?, ...}``."""

    project = serializers.IntegerField()
    dataset = serializers.IntegerField()
    rubric_version = serializers.IntegerField(required=False, allow_null=True)
    overlap = serializers.IntegerField(min_value=1, max_value=50, default=1)
    min_agreement = serializers.FloatField(required=False, default=0.5)
    annotators = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    domains = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")


class AnnotationQueueUpdateSerializer(serializers.Serializer):
    """PATCH: any of name, instructions, min_agreement, annotators (usernames)."""

    name = serializers.CharField(required=False, max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True)
    min_agreement = serializers.FloatField(required=False)
    annotators = serializers.ListField(child=serializers.CharField(), required=False)


class AnnotatorPairSerializer(PairSerializer):
    """A pair as an annotator sees it: no gold label, and only the metadata that is safe."""

    metadata = serializers.SerializerMethodField()

    class Meta(PairSerializer.Meta):
        fields = [f for f in PairSerializer.Meta.fields if f != "gold_label"]
        read_only_fields = fields

    def get_metadata(self, pair: Pair) -> dict[str, Any]:
        """Only the transcript turns; other metadata may carry labels or model names."""
        return selectors.annotator_payload_metadata(pair)


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class NextSerializer(serializers.Serializer):
    """The caller's next pair: ``{pair, assignment, progress}``."""

    pair = AnnotatorPairSerializer()
    assignment = serializers.IntegerField()
    progress = ProgressSerializer()


class UndoneSerializer(NextSerializer):
    """The reopened pair with what the undone annotation said."""

    previous = serializers.DictField()


class AnnotationCreateSerializer(serializers.Serializer):
    """``{queue, pair, choice: A|B|tie, rationale?, criteria?: {criterion_id: A|B|tie}}``."""

    queue = serializers.IntegerField()
    pair = serializers.IntegerField()
    choice = serializers.CharField()
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    criteria = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    confidence = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    time_spent_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class AnnotationSerializer(serializers.ModelSerializer):
    """An annotation as its author reads it back."""

    annotator: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Annotation
        fields = [
            "id",
            "queue",
            "pair",
            "assignment",
            "annotator",
            "choice",
            "criteria",
            "rationale",
            "confidence",
            "time_spent_ms",
            "created_at",
        ]
        read_only_fields = fields


class SkipSerializer(serializers.Serializer):
    """``{assignment?}``: the caller's open assignment when left out."""

    assignment = serializers.IntegerField(required=False, allow_null=True)


class AdjudicateSerializer(serializers.Serializer):
    """``{pair, label: A|B|tie|null, reason?}``; a null label withdraws the adjudication."""

    pair = serializers.IntegerField()
    # DRF collects declared fields off the class, so ``label`` does not shadow Field.label.
    label = serializers.ChoiceField(choices=GoldLabel.values, allow_null=True)  # type: ignore[assignment]
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
