"""Datasets, pair imports, pairs and reference snapshots over the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import Capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.core.parsers import CheckedFormParser, CheckedMultiPartParser
from apps.datasets import services
from apps.datasets.api.serializers import (
    DatasetSerializer,
    ImportErrorSerializer,
    ImportRequestSerializer,
    ImportResultSerializer,
    PairSerializer,
    ReferenceItemSerializer,
    ReferenceSetCreateSerializer,
    ReferenceSetSerializer,
)
from apps.datasets.filters import PairFilter, ReferenceItemFilter, ReferenceSetFilter
from apps.datasets.importers import ImportFailed
from apps.datasets.models import Dataset, Pair, ReferenceSet
from apps.datasets.selectors import reference_set_items


def _errors_from_serializer(errors: dict[str, Any]) -> list[dict[str, Any]]:
    """DRF's ``{field: [messages]}`` in the import's ``[{line, field, message}]`` shape."""
    return [
        {"line": None, "field": name, "message": str(message)}
        for name, messages in errors.items()
        for message in (messages if isinstance(messages, list) else [messages])
    ]


class DatasetViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Datasets of the caller's projects; ``import`` streams a file of pairs into one."""

    queryset = Dataset.objects.annotate(pair_count=Count("pairs")).order_by("name", "id")
    serializer_class = DatasetSerializer
    filterset_fields = ["project", "name"]
    capabilities = {
        "list": Capability.DATASET_VIEW,
        "retrieve": Capability.DATASET_VIEW,
        "create": Capability.DATASET_EDIT,
        "import_pairs": Capability.DATASET_EDIT,
    }

    def perform_create(self, serializer: DatasetSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        dataset = services.dataset_create(
            actor=self.request.user,
            project=self.get_create_project(),
            name=data["name"],
            description=data.get("description", ""),
        )
        dataset.pair_count = 0  # type: ignore[attr-defined]
        serializer.instance = dataset

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            201: ImportResultSerializer,
            400: inline_serializer(
                name="ImportErrors",
                fields={
                    "errors": ImportErrorSerializer(many=True),
                    "truncated": serializers.BooleanField(),
                },
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[CheckedMultiPartParser, CheckedFormParser],
    )
    def import_pairs(self, request: Request, pk: str | None = None) -> Response:
        """Import a file of pairs: all of it (201 with counts) or nothing (400 with errors)."""
        dataset = self.get_object()
        body = ImportRequestSerializer(data=request.data)
        if not body.is_valid():
            return Response(
                {"errors": _errors_from_serializer(body.errors), "truncated": False},
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = body.validated_data
        upload = data["file"]
        # Oversized uploads never get here: the upload limit refuses them (413) from the
        # request headers, before the body is read.
        try:
            result = services.pairs_import(
                actor=request.user,
                dataset=dataset,
                file=upload,
                format=data["format"],
                domain=data.get("domain") or None,
                seed=data["seed"],
                mapping=data.get("mapping") or None,
                source_name=upload.name,
            )
        except ImportFailed as exc:
            return Response(
                {"errors": exc.as_dicts(), "truncated": exc.truncated},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class PairViewSet(ProjectScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Pairs of the caller's datasets, filtered by ``dataset`` and ``domain``."""

    queryset = Pair.objects.order_by("id")
    serializer_class = PairSerializer
    filterset_class = PairFilter
    project_lookup = "dataset__project"
    capabilities = {"list": Capability.DATASET_VIEW, "retrieve": Capability.DATASET_VIEW}


class ReferenceSetViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Frozen snapshots of gold labels. Create makes a new snapshot; none is ever edited."""

    queryset = ReferenceSet.objects.select_related("created_by").order_by("name", "-version")
    serializer_class = ReferenceSetSerializer
    filterset_class = ReferenceSetFilter
    capabilities = {
        "list": Capability.DATASET_VIEW,
        "retrieve": Capability.DATASET_VIEW,
        "create": Capability.DATASET_EDIT,
        "items": Capability.DATASET_VIEW,
    }

    @extend_schema(request=ReferenceSetCreateSerializer, responses={201: ReferenceSetSerializer})
    def create(self, request: Request) -> Response:
        """Freeze a snapshot from a dataset's imported labels or a queue's consensus."""
        project = self.get_create_project()
        body = ReferenceSetCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        dataset = None
        if data.get("dataset") is not None:
            dataset = Dataset.objects.filter(pk=data["dataset"], project=project).first()
            if dataset is None:
                raise serializers.ValidationError({"dataset": ["No such dataset in this project."]})
        reference_set = services.reference_set_create(
            actor=request.user,
            project=project,
            name=data["name"],
            dataset=dataset,
            source=("queue", data["queue"]) if dataset is None else None,
            description=data.get("description", ""),
        )
        return Response(ReferenceSetSerializer(reference_set).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ReferenceItemSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="items", url_name="items")
    def items(self, request: Request, pk: str | None = None) -> Response:
        """The snapshot's pairs with their gold labels (filter by ``domain``, ``gold_label``)."""
        reference_set = self.get_object()
        queryset = ReferenceItemFilter(
            request.query_params, queryset=reference_set_items(reference_set=reference_set)
        ).qs
        page = self.paginate_queryset(queryset)
        serializer = ReferenceItemSerializer(page if page is not None else queryset, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)
