"""Serializers of the datasets API (field names are a public contract: see docs/api.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.datasets.importers import FORMATS
from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet


class DatasetSerializer(serializers.ModelSerializer):
    pair_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "project", "name", "description", "source", "pair_count", "created_at"]
        read_only_fields = ["id", "source", "pair_count", "created_at"]
        # Uniqueness per project is checked by the service with a clear message.
        validators: list[Any] = []


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=FORMATS)
    domain = serializers.CharField(required=False, allow_blank=True, max_length=100)
    seed = serializers.IntegerField(required=False, default=0, min_value=0)
    mapping = serializers.JSONField(required=False, binary=True)

    def validate_mapping(self, value: Any) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise serializers.ValidationError(
                'Expected a JSON object of target field to source field, e.g. {"prompt": "q"}.'
            )
        return value


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    skipped = serializers.IntegerField()
    annotations = serializers.IntegerField()
    skipped_reasons = serializers.DictField(child=serializers.IntegerField())


# A pair as the API shows it, alone or as an item of a reference set (with that set's label).
PAIR_FIELDS = [
    "id",
    "dataset",
    "external_id",
    "prompt",
    "response_a",
    "response_b",
    "domain",
    "gold_label",
    "metadata",
]


class PairSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pair
        fields = PAIR_FIELDS
        read_only_fields = fields


class ReferenceSetSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )
    queue = serializers.SerializerMethodField(
        help_text="The annotation queue whose consensus was frozen; null for imported labels."
    )

    def get_queue(self, reference_set: ReferenceSet) -> int | None:
        return reference_set.source_id if reference_set.source_kind == "queue" else None

    class Meta:
        model = ReferenceSet
        fields = [
            "id",
            "project",
            "name",
            "version",
            "dataset",
            "queue",
            "source_description",
            "description",
            "item_count",
            "domain_counts",
            "unlabelled_count",
            "content_hash",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ReferenceSetCreateSerializer(serializers.Serializer):
    """``{project, name, dataset}`` or ``{project, name, queue}``."""

    project = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    dataset = serializers.IntegerField(required=False, allow_null=True)
    queue = serializers.IntegerField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("dataset") is None) == (attrs.get("queue") is None):
            raise serializers.ValidationError(
                {"dataset": ["Give either a dataset (imported labels) or a queue (consensus)."]}
            )
        return attrs


class ReferenceItemSerializer(serializers.ModelSerializer):
    """A pair of the snapshot with the snapshot's label (``gold_label``) and where it came from."""

    id = serializers.IntegerField(source="pair.id", read_only=True)
    dataset = serializers.IntegerField(source="pair.dataset_id", read_only=True)
    external_id = serializers.CharField(source="pair.external_id", read_only=True)
    prompt = serializers.CharField(source="pair.prompt", read_only=True)
    response_a = serializers.CharField(source="pair.response_a", read_only=True)
    response_b = serializers.CharField(source="pair.response_b", read_only=True)
    domain = serializers.CharField(source="pair.domain", read_only=True)
    metadata = serializers.JSONField(source="pair.metadata", read_only=True)

    class Meta:
        model = ReferenceItem
        fields = [*PAIR_FIELDS, "source"]
        read_only_fields = fields
