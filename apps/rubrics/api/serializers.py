"""Shapes of rubrics and rubric versions in the API (field names as in docs/api.md)."""

from __future__ import annotations

from rest_framework import serializers

from apps.rubrics.models import Criterion, Rubric, RubricLabel, RubricVersion
from apps.rubrics.spec import CRITERION_KINDS


class CriterionSerializer(serializers.ModelSerializer):
    """A criterion; ``check`` is the model's ``machine_check``."""

    check = serializers.JSONField(source="machine_check", required=False, allow_null=True)

    class Meta:
        model = Criterion
        fields = ["id", "key", "title", "description", "weight", "kind", "check"]
        read_only_fields = fields


class RubricVersionSerializer(serializers.ModelSerializer):
    """A version as clients read it."""

    criteria = CriterionSerializer(many=True, read_only=True)
    author = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField()

    class Meta:
        model = RubricVersion
        fields = [
            "id",
            "rubric",
            "number",
            "parent",
            "status",
            "instructions",
            "template",
            "output_format",
            "criteria",
            "message",
            "revision",
            "content_hash",
            "author",
            "labels",
            "created_at",
            "published_at",
        ]
        read_only_fields = fields

    def get_author(self, version: RubricVersion) -> str | None:
        return version.author.get_username() if version.author else None

    def get_labels(self, version: RubricVersion) -> list[str]:
        return sorted(label.name for label in version.labels.all())


class CriterionInputSerializer(serializers.Serializer):
    """One criterion in a draft write. Values are checked by the service, which names fields."""

    key = serializers.CharField(required=False, allow_blank=True)
    title = serializers.CharField(allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    weight = serializers.FloatField(required=False, default=1.0)
    kind = serializers.ChoiceField(choices=CRITERION_KINDS, required=False, default="principle")
    check = serializers.JSONField(required=False, allow_null=True, default=None)


class DraftCreateSerializer(serializers.Serializer):
    """POST /api/rubrics/{id}/versions/: a new draft.

    ``parent`` omitted: the newest published version; ``null``: a root version. Fields
    omitted are copied from the parent. ``notes`` is accepted as an alias of ``message``.
    """

    # ``parent`` and ``label`` shadow attributes of DRF's Field, which the metaclass moves away.
    parent = serializers.IntegerField(required=False, allow_null=True)  # type: ignore[assignment]
    instructions = serializers.CharField(required=False, allow_blank=True)
    template = serializers.CharField(required=False, allow_blank=True)
    output_format = serializers.CharField(required=False)
    criteria = CriterionInputSerializer(many=True, required=False)
    message = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class DraftUpdateSerializer(serializers.Serializer):
    """PATCH /api/rubric-versions/{id}/: ``revision`` is the one the client read."""

    revision = serializers.IntegerField()
    instructions = serializers.CharField(required=False, allow_blank=True)
    template = serializers.CharField(required=False, allow_blank=True)
    output_format = serializers.CharField(required=False)
    criteria = CriterionInputSerializer(many=True, required=False)
    message = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class PublishSerializer(serializers.Serializer):
    """POST /api/rubric-versions/{id}/publish/."""

    message = serializers.CharField(allow_blank=True)
    revision = serializers.IntegerField(required=False)


class PromoteSerializer(serializers.Serializer):
    """POST /api/rubrics/{id}/promote/."""

    version = serializers.IntegerField()
    label = serializers.CharField(required=False, default="production")  # type: ignore[assignment]


class LabelSerializer(serializers.ModelSerializer):
    """Where a label points."""

    version_number = serializers.IntegerField(source="version.number", read_only=True)
    moved_by = serializers.SerializerMethodField()

    class Meta:
        model = RubricLabel
        fields = ["name", "version", "version_number", "moved_by", "moved_at"]
        read_only_fields = fields

    def get_moved_by(self, label: RubricLabel) -> str | None:
        return label.moved_by.get_username() if label.moved_by else None


class RubricSerializer(serializers.ModelSerializer):
    """A rubric with its labels; its content is in ``/api/rubrics/{id}/versions/``, its drift
    guard in ``/api/rubrics/{id}/guard/``."""

    labels = LabelSerializer(many=True, read_only=True)
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Rubric
        fields = [
            "id",
            "project",
            "name",
            "slug",
            "description",
            "labels",
            "latest_version",
            "created_at",
        ]
        read_only_fields = ["id", "slug", "labels", "latest_version", "created_at"]

    def get_latest_version(self, rubric: Rubric) -> int | None:
        last: int | None = rubric.versions.order_by("-number").values_list("pk", flat=True).first()
        return last


class ImportSerializer(serializers.Serializer):
    """POST /api/rubrics/import/ (multipart)."""

    file = serializers.FileField()
    project = serializers.IntegerField()
    name = serializers.CharField(required=False, allow_blank=True)
    rubric = serializers.IntegerField(required=False, allow_null=True)
    publish = serializers.BooleanField(required=False, default=False)


class RubricImportResultSerializer(serializers.Serializer):
    """201 of POST /api/rubrics/import/: the rubric, whether the import made it, the versions."""

    rubric = RubricSerializer()
    created_rubric = serializers.BooleanField()
    versions = RubricVersionSerializer(many=True)


class PromotionRefusedSerializer(serializers.Serializer):
    """The body of a refused promotion (409)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    links = serializers.DictField(child=serializers.CharField(), required=False)
