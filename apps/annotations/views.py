"""Pages of the annotations app: the annotator's queues and labelling page, queue admin pages.

The labelling page is one page whose workspace (progress, the pair, the choice form) is swapped
by htmx after every label, skip or undo; without JavaScript the same forms post and redirect.
"""

from __future__ import annotations

import csv
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.annotations import selectors, services
from apps.annotations.filters import QueueLabelFilter
from apps.annotations.forms import AdjudicationForm, QueueForm, QueueSettingsForm
from apps.annotations.models import AnnotationQueue, Assignment
from apps.core.filters import filtered_rows
from apps.core.forms import form_add_service_errors
from apps.core.htmx import is_partial_request, no_store, template_for
from apps.datasets.models import Dataset, GoldLabel
from apps.datasets.selectors import pair_turns

LABELS_PER_PAGE = 50

# The same words as the buttons and the guidelines ("Tie"), so nobody wonders if they differ.
CHOICE_TEXT = {"A": "A is better", "B": "B is better", "tie": "Tie"}


class QueueMixin(ProjectAccessMixin):
    """Resolves ``self.queue`` from the URL, within the project (other projects' ids: 404)."""

    def get_queue(self) -> AnnotationQueue:
        if not hasattr(self, "_queue"):
            self._queue = get_object_or_404(
                AnnotationQueue.objects.select_related("dataset", "rubric_version__rubric"),
                pk=self.kwargs["queue"],
                project=self.project,
            )
        return self._queue


class QueueListView(ProjectAccessMixin, TemplateView):
    """The queues the user labels in, with their progress; admins also see every queue."""

    template_name = "annotations/list.html"
    required_capability = Capability.ANNOTATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_manage = Capability.QUEUE_MANAGE in self.capabilities
        managed: list[AnnotationQueue] = []
        if can_manage:
            managed = list(
                AnnotationQueue.objects.filter(project=self.project)
                .select_related("dataset")
                .prefetch_related("annotators")
            )
            progress = selectors.queues_progress(queues=managed)
            for queue in managed:
                queue.progress = progress[queue.pk]  # type: ignore[attr-defined]
        context.update(
            assigned=selectors.queues_assigned_to(project=self.project, user=self.request.user),
            managed=managed,
            can_manage=can_manage,
        )
        return context


class QueueCreateView(ProjectAccessMixin, TemplateView):
    """An admin makes a queue; choosing a dataset fetches its domains (htmx partial)."""

    template_name = "annotations/create.html"
    required_capability = Capability.QUEUE_MANAGE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "form" not in context:
            initial = {"dataset": self.request.GET.get("dataset") or None, "overlap": 1}
            context["form"] = self.make_form(initial=initial)
        return context

    def make_form(self, *args: Any, **kwargs: Any) -> QueueForm:
        """The form; picking a dataset asks for its domains without reloading the page."""
        form = QueueForm(*args, project=self.project, **kwargs)
        form.fields["dataset"].widget.attrs.update(
            {
                "hx-get": reverse("annotations:create", kwargs={"project": self.project.slug}),
                "hx-target": "#domains-field",
                "hx-swap": "outerHTML",
            }
        )
        return form

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "domains")]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.make_form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                queue = services.annotation_queue_create(
                    actor=request.user,
                    project=self.project,
                    dataset=data["dataset"],
                    annotators=list(data["annotators"]),
                    name=data["name"],
                    rubric_version=data["rubric_version"],
                    overlap=data["overlap"],
                    min_agreement=data["min_agreement"],
                    domains=data["domains"],
                    instructions=data["instructions"],
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, f"Queue {queue.name} created.")
                return redirect("annotations:queue", project=self.project.slug, queue=queue.pk)
        context = self.get_context_data(form=form)
        return render(request, self.template_name, context, status=400)


class QueueDetailView(QueueMixin, TemplateView):
    """For admins: progress, each annotator's work, agreement, and the pairs to adjudicate."""

    template_name = "annotations/queue.html"
    required_capability = Capability.QUEUE_MANAGE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        queue = self.get_queue()
        if "settings_form" not in context:
            context["settings_form"] = QueueSettingsForm(
                project=self.project,
                initial={
                    "name": queue.name,
                    "min_agreement": queue.min_agreement,
                    "annotators": list(queue.annotators.all()),
                    "instructions": queue.instructions,
                },
            )
        context.update(
            queue=queue,
            progress=selectors.queue_progress(queue=queue),
            states=selectors.consensus_summary(queue=queue),
            annotator_stats=selectors.queue_annotator_stats(queue=queue),
            report=selectors.queue_agreement(queue=queue),
            adjudication_rows=selectors.adjudication_rows(queue=queue),
            label_choices=GoldLabel.choices,
            is_annotator=selectors.is_assigned(queue=queue, user=self.request.user),
        )
        return context


class QueueLabelsView(QueueMixin, TemplateView):
    """For admins: the queue's labels one per row, filtered by annotator, label or domain; the
    counts of the queue page (labels, each annotator's, each label's) open this list."""

    template_name = "annotations/labels.html"
    required_capability = Capability.QUEUE_MANAGE

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        queue = self.get_queue()
        labels = selectors.queue_annotations(queue=queue)
        label_filter = QueueLabelFilter(self.request.GET or None, queryset=labels, queue=queue)
        labels = filtered_rows(label_filter)
        context.update(
            queue=queue,
            filter=label_filter,
            page=Paginator(labels, LABELS_PER_PAGE).get_page(self.request.GET.get("page")),
        )
        return context


class QueueSettingsView(QueueDetailView):
    """POST: rename, reword, change the threshold or the annotators."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        queue = self.get_queue()
        form = QueueSettingsForm(request.POST, project=self.project)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.annotation_queue_update(
                    actor=request.user,
                    queue=queue,
                    name=data["name"],
                    instructions=data["instructions"],
                    min_agreement=data["min_agreement"],
                    annotators=list(data["annotators"]),
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, "Queue settings saved.")
                return redirect("annotations:queue", project=self.project.slug, queue=queue.pk)
        context = self.get_context_data(settings_form=form)
        return render(request, self.template_name, context, status=400)


class AdjudicateView(QueueMixin, TemplateView):
    """POST: an admin's label for a disputed pair (htmx swaps the pair's row)."""

    template_name = "annotations/queue.html"
    required_capability = Capability.QUEUE_MANAGE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        queue = self.get_queue()
        form = AdjudicationForm(request.POST)
        error = ""
        pair = None
        if form.is_valid():
            pair = get_object_or_404(
                selectors.queue_pairs(queue=queue), pk=form.cleaned_data["pair"]
            )
            try:
                if form.cleaned_data["label"]:
                    services.adjudication_set(
                        actor=request.user,
                        queue=queue,
                        pair=pair,
                        label=form.cleaned_data["label"],
                        reason=form.cleaned_data["reason"],
                    )
                else:
                    services.adjudication_clear(actor=request.user, queue=queue, pair=pair)
            except ValidationError as exc:
                error = "; ".join(exc.messages)
        else:
            error = "Choose a pair and a label."
        if not is_partial_request(request) or pair is None:
            if error:
                messages.error(request, error)
            else:
                messages.success(request, "Adjudication saved.")
            return redirect("annotations:queue", project=self.project.slug, queue=queue.pk)
        row = selectors.queue_votes(queue=queue, with_pairs=True).get(pair.pk)
        context = {
            "project": self.project,
            "queue": queue,
            "row": row,
            "label_choices": GoldLabel.choices,
            "row_error": error,
            "row_saved": not error,
        }
        return render(request, "annotations/queue.html#adjudication-row", context)


class QueueExportView(QueueMixin, TemplateView):
    """Every label of the queue as CSV, with each pair's consensus and final label."""

    required_capability = Capability.QUEUE_MANAGE

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        queue = self.get_queue()
        votes = selectors.queue_votes(queue=queue)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="queue-{queue.pk}-labels.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "pair",
                "external_id",
                "domain",
                "annotator",
                "choice",
                "criteria",
                "rationale",
                "confidence",
                "time_spent_ms",
                "created_at",
                "consensus",
                "final_label",
                "source",
            ]
        )
        for annotation in selectors.queue_annotations(queue=queue):
            row = votes.get(annotation.pair_id)
            writer.writerow(
                [
                    annotation.pair_id,
                    _cell(annotation.pair.external_id),
                    _cell(annotation.pair.domain),
                    annotation.annotator.username,
                    annotation.choice,
                    json.dumps(annotation.criteria or {}, sort_keys=True),
                    _cell(annotation.rationale),
                    annotation.confidence if annotation.confidence is not None else "",
                    annotation.time_spent_ms if annotation.time_spent_ms is not None else "",
                    annotation.created_at.isoformat(),
                    (row.consensus if row else None) or "",
                    (row.final_label if row else None) or "",
                    (row.source if row else None) or "",
                ]
            )
        return response


def _cell(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class DatasetAgreementView(ProjectAccessMixin, TemplateView):
    """Agreement of the labels imported with a dataset (PandaLM's three annotators, say)."""

    template_name = "annotations/dataset_agreement.html"
    required_capability = Capability.DATASET_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        dataset = get_object_or_404(Dataset, pk=self.kwargs["dataset"], project=self.project)
        context.update(dataset=dataset, report=selectors.dataset_agreement(dataset=dataset))
        return context


# --- labelling --------------------------------------------------------------------------------


class LabelView(QueueMixin, TemplateView):
    """The labelling page: the open pair (or the next one), the guidelines, the keys."""

    template_name = "annotations/label.html"
    required_capability = Capability.ANNOTATE

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().dispatch(request, *args, **kwargs)
        return no_store(response)

    def check_assigned(self) -> AnnotationQueue:
        queue = self.get_queue()
        if not selectors.is_assigned(queue=queue, user=self.request.user):
            raise PermissionDenied("You are not one of this queue's annotators.")
        return queue

    def workspace(
        self,
        *,
        assignment: Assignment | None = None,
        notice: str = "",
        error: str = "",
        previous: services.UndoResult | None = None,
    ) -> dict[str, Any]:
        """Context of the swapped workspace: progress, the pair, the choice form."""
        queue = self.get_queue()
        if assignment is None:
            assignment = services.assignment_next(queue=queue, annotator=self.request.user)
        pair = assignment.pair if assignment is not None else None
        criteria = (
            list(queue.rubric_version.criteria.all()) if queue.rubric_version is not None else []
        )
        chosen = previous.criteria if previous else {}
        progress = selectors.annotator_progress(queue=queue, annotator=self.request.user)
        return {
            "queue": queue,
            "assignment": assignment,
            "pair": pair,
            "turns": pair_turns(pair=pair) if pair is not None else [],
            "criteria_rows": [
                {"criterion": criterion, "selected": chosen.get(str(criterion.pk), "")}
                for criterion in criteria
            ],
            "choices": [("A", "1", "A is better"), ("B", "2", "B is better"), ("tie", "3", "Tie")],
            "progress": progress,
            "notice": notice,
            "error": error,
            "previous": previous,
            "confidence_levels": range(1, services.MAX_CONFIDENCE + 1),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        queue = self.check_assigned()
        context.update(self.workspace())
        context["criteria"] = (
            list(queue.rubric_version.criteria.all()) if queue.rubric_version is not None else []
        )
        return context

    def respond(self, request: HttpRequest, **workspace: Any) -> HttpResponse:
        """htmx: the new workspace; a plain form post: back to the page (post/redirect/get)."""
        if is_partial_request(request):
            context = {"project": self.project, **self.workspace(**workspace)}
            return render(request, "annotations/label.html#workspace", context)
        if workspace.get("error"):
            messages.error(request, workspace["error"])
        elif workspace.get("notice"):
            messages.info(request, workspace["notice"])
        return redirect(
            reverse(
                "annotations:label",
                kwargs={"project": self.project.slug, "queue": self.get_queue().pk},
            )
        )

    def own_assignment(self, request: HttpRequest) -> Assignment | None:
        raw = request.POST.get("assignment", "")
        if not raw.isdigit():
            return None
        return (
            Assignment.objects.filter(
                pk=int(raw), queue=self.get_queue(), annotator_id=request.user.pk
            )
            .select_related("queue__rubric_version", "pair")
            .first()
        )


def _optional_int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


class SubmitView(LabelView):
    """POST a choice (and optional criteria, rationale, confidence) for the open pair."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.check_assigned()
        assignment = self.own_assignment(request)
        if assignment is None:
            return self.respond(request, error="That pair is no longer open for you.")
        criteria = {
            key.removeprefix("criterion-"): value
            for key, value in request.POST.items()
            if key.startswith("criterion-") and value
        }
        try:
            annotation = services.annotation_submit(
                assignment=assignment,
                choice=request.POST.get("choice", ""),
                criteria=criteria,
                rationale=request.POST.get("rationale", ""),
                confidence=_optional_int(request.POST.get("confidence")),
                time_spent_ms=_optional_int(request.POST.get("time_spent_ms")),
            )
        except ValidationError as exc:
            return self.respond(request, assignment=assignment, error="; ".join(exc.messages))
        except services.AssignmentClosed as exc:
            return self.respond(request, error=str(exc))
        return self.respond(
            request, notice=f"Saved: {CHOICE_TEXT[annotation.choice]}. Press u to undo."
        )


class SkipView(LabelView):
    """POST: pass over the open pair; another annotator will get its slot."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.check_assigned()
        assignment = self.own_assignment(request)
        if assignment is None:
            return self.respond(request, error="That pair is no longer open for you.")
        try:
            services.assignment_skip(assignment=assignment)
        except services.AssignmentClosed as exc:
            return self.respond(request, error=str(exc))
        return self.respond(request, notice="Skipped. Someone else will label that pair.")


class UndoView(LabelView):
    """POST: take back the last label in this queue and show that pair again."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        queue = self.check_assigned()
        result = services.annotation_undo(queue=queue, annotator=request.user)
        if result is None:
            return self.respond(request, error="Nothing to undo in this queue.")
        return self.respond(
            request,
            assignment=result.assignment,
            previous=result,
            notice=f"Undone: you had chosen {CHOICE_TEXT[result.choice]}. Choose again.",
        )
