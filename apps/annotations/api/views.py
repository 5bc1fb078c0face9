"""Annotation queues, the annotator's next pair, annotations, agreement and adjudication."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Project
from apps.accounts.permissions import Capability, has_capability
from apps.accounts.viewsets import ProjectScopedMixin
from apps.annotations import selectors, services
from apps.annotations.api.serializers import (
    AdjudicateSerializer,
    AnnotationCreateSerializer,
    AnnotationQueueCreateSerializer,
    AnnotationQueueSerializer,
    AnnotationQueueUpdateSerializer,
    AnnotationSerializer,
    AnnotatorPairSerializer,
    NextSerializer,
    SkipSerializer,
    UndoneSerializer,
)
from apps.annotations.models import Annotation, AnnotationQueue, Assignment, AssignmentStatus
from apps.core.api import Conflict
from apps.datasets.models import Dataset
from apps.rubrics.models import RubricVersion


def _users(project: Project, usernames: list[str]) -> list[Any]:
    """The users named, or a 400 naming the unknown ones."""
    User = get_user_model()
    wanted = {name.strip() for name in usernames if name.strip()}
    found = {user.username: user for user in User.objects.filter(username__in=wanted)}
    unknown = sorted(wanted - set(found))
    if unknown:
        raise serializers.ValidationError({"annotators": [f"No such users: {', '.join(unknown)}."]})
    return [found[name] for name in sorted(found)]


def next_payload(queue: AnnotationQueue, assignment: Assignment, annotator: Any) -> dict[str, Any]:
    """``{pair, assignment, progress}``: what an annotator gets, and nothing more."""
    progress = selectors.annotator_progress(queue=queue, annotator=annotator)
    return {
        "pair": AnnotatorPairSerializer(assignment.pair).data,
        "assignment": assignment.pk,
        "progress": {"done": progress["done"], "total": progress["total"]},
    }


class AnnotationQueueViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Queues: admins create and manage them; assigned annotators ask for their next pair.

    The list holds every queue of the projects the caller administers and the queues the caller
    is assigned to elsewhere.
    """

    queryset = (
        AnnotationQueue.objects.select_related("project", "dataset")
        .prefetch_related("annotators")
        .order_by("-created_at", "-id")
    )
    serializer_class = AnnotationQueueSerializer
    serialized_actions = frozenset({"list", "retrieve", "create", "partial_update"})
    filterset_fields = ["project", "dataset"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    capabilities = {
        "list": Capability.ANNOTATE,
        "retrieve": Capability.ANNOTATE,
        "create": Capability.QUEUE_MANAGE,
        "partial_update": Capability.QUEUE_MANAGE,
        "next": Capability.ANNOTATE,
        "skip": Capability.ANNOTATE,
        "undo": Capability.ANNOTATE,
        "agreement": Capability.QUEUE_MANAGE,
        "labels": Capability.QUEUE_MANAGE,
        "adjudicate": Capability.QUEUE_MANAGE,
    }

    def get_queryset(self) -> QuerySet[AnnotationQueue]:
        queryset = super().get_queryset()
        if self.action not in self.serialized_actions:
            # An annotator's next/skip/undo never shows the queue's annotators: no prefetch.
            queryset = queryset.prefetch_related(None)
        if self.action != "list":
            return queryset
        user = self.request.user
        managed = [
            project.pk
            for project in Project.objects.for_user(user)
            if has_capability(user, project, Capability.QUEUE_MANAGE)
        ]
        assigned = AnnotationQueue.objects.filter(annotators=user).values("pk")
        return queryset.filter(Q(project_id__in=managed) | Q(pk__in=assigned))

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("many") and args:
            # A page of queues: every queue's progress in two queries, not two per queue.
            queues = list(args[0])
            context = dict(self.get_serializer_context())
            context["progress"] = selectors.queues_progress(queues=queues)
            return super().get_serializer(queues, *args[1:], context=context, **kwargs)
        return super().get_serializer(*args, **kwargs)

    def _queue_for_annotator(self) -> AnnotationQueue:
        queue: AnnotationQueue = self.get_object()
        if not selectors.is_assigned(queue=queue, user=self.request.user):
            raise PermissionDenied("You are not one of this queue's annotators.")
        return queue

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A queue: for its admins and its annotators."""
        queue: AnnotationQueue = self.get_object()
        if not (
            selectors.can_manage(queue=queue, user=request.user)
            or selectors.is_assigned(queue=queue, user=request.user)
        ):
            raise PermissionDenied("You are not one of this queue's annotators.")
        return Response(self.get_serializer(queue).data)

    @extend_schema(
        request=AnnotationQueueCreateSerializer, responses={201: AnnotationQueueSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a queue of a dataset's pairs for some annotators (project admins)."""
        project = self.get_create_project()
        body = AnnotationQueueCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        dataset = Dataset.objects.filter(pk=data["dataset"], project=project).first()
        if dataset is None:
            raise serializers.ValidationError({"dataset": ["No such dataset in this project."]})
        version = None
        if data.get("rubric_version") is not None:
            version = RubricVersion.objects.filter(
                pk=data["rubric_version"], rubric__project=project
            ).first()
            if version is None:
                raise serializers.ValidationError(
                    {"rubric_version": ["No such rubric version in this project."]}
                )
        queue = services.annotation_queue_create(
            actor=request.user,
            project=project,
            dataset=dataset,
            annotators=_users(project, data["annotators"]),
            name=data["name"],
            rubric_version=version,
            overlap=data["overlap"],
            min_agreement=data["min_agreement"],
            domains=data["domains"],
            instructions=data["instructions"],
        )
        return Response(self.get_serializer(queue).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AnnotationQueueUpdateSerializer, responses={200: AnnotationQueueSerializer}
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Rename, reword, change the threshold or the annotators (the rest is fixed)."""
        queue: AnnotationQueue = self.get_object()
        body = AnnotationQueueUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        annotators = data.get("annotators")
        services.annotation_queue_update(
            actor=request.user,
            queue=queue,
            name=data.get("name"),
            instructions=data.get("instructions"),
            min_agreement=data.get("min_agreement"),
            annotators=_users(queue.project, annotators) if annotators is not None else None,
        )
        return Response(self.get_serializer(queue).data)

    @extend_schema(
        responses={200: NextSerializer, 204: OpenApiResponse(description="Nothing left for you.")}
    )
    @action(detail=True, methods=["get"], url_path="next", url_name="next")
    def next(self, request: Request, pk: str | None = None) -> Response:
        """The caller's next pair (the open one first): no gold label, no other labels."""
        queue: AnnotationQueue = self.get_object()  # the service checks the caller is assigned
        assignment = services.assignment_next(queue=queue, annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(next_payload(queue, assignment, request.user))

    @extend_schema(
        request=SkipSerializer,
        responses={200: NextSerializer, 204: OpenApiResponse(description="Nothing left.")},
    )
    @action(detail=True, methods=["post"], url_path="skip", url_name="skip")
    def skip(self, request: Request, pk: str | None = None) -> Response:
        """Pass over the open pair (another annotator gets its slot); returns the next pair."""
        queue = self._queue_for_annotator()
        body = SkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        open_ = Assignment.objects.filter(
            queue=queue, annotator_id=request.user.pk, status=AssignmentStatus.ASSIGNED
        )
        if body.validated_data.get("assignment") is not None:
            open_ = open_.filter(pk=body.validated_data["assignment"])
        assignment = open_.first()
        if assignment is None:
            raise Conflict("You have no open pair to skip in this queue.")
        try:
            services.assignment_skip(assignment=assignment)
        except services.AssignmentClosed as exc:
            raise Conflict(str(exc)) from None
        following = services.assignment_next(queue=queue, annotator=request.user)
        if following is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(next_payload(queue, following, request.user))

    @extend_schema(request=None, responses={200: UndoneSerializer, 409: None})
    @action(detail=True, methods=["post"], url_path="undo", url_name="undo")
    def undo(self, request: Request, pk: str | None = None) -> Response:
        """Delete the caller's last label in the queue and reopen that pair."""
        queue = self._queue_for_annotator()
        result = services.annotation_undo(queue=queue, annotator=request.user)
        if result is None:
            raise Conflict("You have no label to undo in this queue.")
        payload = next_payload(queue, result.assignment, request.user)
        payload["previous"] = {
            "choice": result.choice,
            "criteria": result.criteria,
            "rationale": result.rationale,
            "confidence": result.confidence,
        }
        return Response(payload)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"], url_path="agreement", url_name="agreement")
    def agreement(self, request: Request, pk: str | None = None) -> Response:
        """Cohen's kappa per annotator pair, Fleiss' kappa, Krippendorff's alpha, agreement
        of each annotator with the others' consensus, per domain and per criterion."""
        queue: AnnotationQueue = self.get_object()
        report = selectors.queue_agreement(queue=queue)
        report["consensus_states"] = selectors.consensus_summary(queue=queue)
        return Response(report)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"], url_path="labels", url_name="labels")
    def labels(self, request: Request, pk: str | None = None) -> Response:
        """Every labelled pair: each annotator's label, the consensus, the adjudication and the
        final label with its source (paginated)."""
        queue: AnnotationQueue = self.get_object()
        votes = selectors.queue_votes(queue=queue)
        details: dict[int, list[dict[str, Any]]] = {}
        for annotation in selectors.queue_annotations(queue=queue):
            details.setdefault(annotation.pair_id, []).append(
                {
                    "annotator": annotation.annotator.username,
                    "choice": annotation.choice,
                    "criteria": annotation.criteria,
                    "rationale": annotation.rationale,
                    "confidence": annotation.confidence,
                    "time_spent_ms": annotation.time_spent_ms,
                    "created_at": annotation.created_at,
                }
            )
        rows = [
            {
                "pair": pair_id,
                "domain": row.domain,
                "state": row.state,
                "labels": details.get(pair_id, []),
                "consensus": row.consensus,
                "adjudication": (
                    {
                        "label": row.adjudication.label,
                        "reason": row.adjudication.reason,
                        "decided_by": getattr(row.adjudication.decided_by, "username", None),
                        "decided_at": row.adjudication.decided_at,
                    }
                    if row.adjudication
                    else None
                ),
                "final_label": row.final_label,
                "source": row.source,
            }
            for pair_id, row in sorted(votes.items())
        ]
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(page)
        return Response(rows)

    @extend_schema(request=AdjudicateSerializer, responses={200: dict})
    @action(detail=True, methods=["post"], url_path="adjudicate", url_name="adjudicate")
    def adjudicate(self, request: Request, pk: str | None = None) -> Response:
        """An admin sets (or, with a null label, withdraws) the label of a pair. Audited."""
        queue: AnnotationQueue = self.get_object()
        body = AdjudicateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        pair = get_object_or_404(selectors.queue_pairs(queue=queue), pk=data["pair"])
        if data["label"] is None:
            services.adjudication_clear(actor=request.user, queue=queue, pair=pair)
        else:
            services.adjudication_set(
                actor=request.user,
                queue=queue,
                pair=pair,
                label=data["label"],
                reason=data["reason"],
            )
        row = selectors.queue_votes(queue=queue).get(pair.pk)
        return Response(
            {
                "pair": pair.pk,
                "state": row.state if row else selectors.PairState.PENDING,
                "consensus": row.consensus if row else None,
                "final_label": row.final_label if row else None,
                "source": row.source if row else None,
            }
        )


class AnnotationViewSet(ProjectScopedMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """POST a label for a pair the caller was handed (``next``) in a queue."""

    queryset = Annotation.objects.filter(queue__isnull=False).order_by("id")
    serializer_class = AnnotationSerializer
    project_lookup = "queue__project"
    create_project_field = "queue"
    create_project_model = AnnotationQueue
    capabilities = {"create": Capability.ANNOTATE}

    @extend_schema(request=AnnotationCreateSerializer, responses={201: AnnotationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the caller's choice for an open pair; 409 if it is not open for them."""
        self.get_create_project()
        queue: AnnotationQueue = self.create_parent
        body = AnnotationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not selectors.is_assigned(queue=queue, user=request.user):
            raise PermissionDenied("You are not one of this queue's annotators.")
        assignment = (
            Assignment.objects.filter(
                queue=queue, pair_id=data["pair"], annotator_id=request.user.pk
            )
            .select_related("queue", "annotator")
            .first()
        )
        if assignment is None:
            raise Conflict("This pair was not handed to you: ask the queue for your next pair.")
        if assignment.status == AssignmentStatus.DONE:
            raise Conflict("You already labelled this pair; undo it to change the label.")
        if assignment.status == AssignmentStatus.SKIPPED:
            raise Conflict("You skipped this pair.")
        try:
            annotation = services.annotation_submit(
                assignment=assignment,
                choice=data["choice"],
                criteria=data["criteria"],
                rationale=data["rationale"],
                confidence=data.get("confidence"),
                time_spent_ms=data.get("time_spent_ms"),
            )
        except services.AssignmentClosed as exc:
            raise Conflict(str(exc)) from None
        payload = dict(AnnotationSerializer(annotation).data)
        progress = selectors.annotator_progress(queue=queue, annotator=request.user)
        payload["progress"] = {"done": progress["done"], "total": progress["total"]}
        return Response(payload, status=status.HTTP_201_CREATED)


class DatasetAgreementViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    """Agreement of the labels that came with a dataset's import (PandaLM's annotators)."""

    queryset = Dataset.objects.order_by("id")
    capabilities = {"agreement": Capability.DATASET_VIEW}
    serializer_class = serializers.Serializer

    @extend_schema(responses={200: dict})
    def agreement(self, request: Request, pk: str | None = None) -> Response:
        """The agreement statistics of the dataset's imported annotations, overall and per
        domain (``min_agreement`` query parameter: the consensus threshold, default 0.5)."""
        dataset = self.get_object()
        try:
            threshold = float(request.query_params.get("min_agreement", 0.5))
        except ValueError:
            raise serializers.ValidationError({"min_agreement": ["A number."]}) from None
        if not 0 < threshold <= 1:
            raise serializers.ValidationError({"min_agreement": ["More than 0, at most 1."]})
        return Response(selectors.dataset_agreement(dataset=dataset, min_agreement=threshold))
