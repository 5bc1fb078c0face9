"""Pages of the datasets app: datasets, pairs, uploads and reference snapshots (thin views)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.forms import form_add_service_errors
from apps.core.htmx import is_partial_request, template_for
from apps.datasets import selectors, services
from apps.datasets.filters import (
    DatasetPageFilter,
    PairPageFilter,
    ReferenceItemFilter,
    ReferenceSetPageFilter,
)
from apps.datasets.formats import UPLOAD_FORMATS, upload_formats
from apps.datasets.forms import DatasetForm, ImportForm, ReferenceSetForm
from apps.datasets.importers import ImportFailed
from apps.datasets.models import Dataset, GoldLabel, Pair, ReferenceSet

PAGE_SIZE = 50


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> Page[Any]:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


class DatasetListView(ProjectAccessMixin, TemplateView):
    """The project's datasets with their pair counts per domain, and a form for a new one."""

    template_name = "datasets/list.html"
    required_capability = Capability.DATASET_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        dataset_filter = DatasetPageFilter(
            self.request.GET or None, queryset=Dataset.objects.filter(project=self.project)
        )
        context["filter"] = dataset_filter
        context["datasets"] = selectors.datasets_with_counts(
            project=self.project,
            datasets=dataset_filter.qs if dataset_filter.is_valid() else None,
        )
        context.setdefault("form", DatasetForm())
        context["can_edit"] = Capability.DATASET_EDIT in self.capabilities
        return context


class DatasetCreateView(DatasetListView):
    """POST: make an empty dataset, then go to its page to upload pairs."""

    required_capability = Capability.DATASET_EDIT
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = DatasetForm(request.POST)
        if form.is_valid():
            try:
                dataset = services.dataset_create(
                    actor=request.user,
                    project=self.project,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, f"Dataset {dataset.name} created. Upload pairs next.")
                return redirect("datasets:detail", project=self.project.slug, dataset=dataset.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class DatasetDetailView(ProjectAccessMixin, TemplateView):
    """A dataset: its figures, the pair table (domain filter, paginated) and the upload form."""

    template_name = "datasets/detail.html"
    required_capability = Capability.DATASET_VIEW

    def get_dataset(self) -> Dataset:
        return get_object_or_404(Dataset, pk=self.kwargs["dataset"], project=self.project)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The URL's ``dataset`` kwarg is the id; a view that already loaded it passes the object.
        dataset = kwargs.pop("dataset_obj", None) or self.get_dataset()
        domain_counts = selectors.dataset_domain_counts(dataset=dataset)
        pair_filter = PairPageFilter(
            self.request.GET or None,
            queryset=dataset.pairs.order_by("id"),
            domains=list(domain_counts),
        )
        pairs = pair_filter.qs if pair_filter.is_valid() else dataset.pairs.order_by("id")
        context.update(
            dataset=dataset,
            domain_counts=domain_counts,
            label_counts=selectors.dataset_label_counts(dataset=dataset),
            filter=pair_filter,
            selected_domain=self.request.GET.get("domain", ""),
            selected_label=self.request.GET.get("label", ""),
            query=self.request.GET.get("q", ""),
            page_obj=_page(self.request, pairs),
            can_edit=Capability.DATASET_EDIT in self.capabilities,
        )
        context.setdefault("import_form", ImportForm())
        return context

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "pairs")]


class DatasetImportView(DatasetDetailView):
    """POST an upload: all pairs imported, or none and the problems listed by line."""

    required_capability = Capability.DATASET_EDIT
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        dataset = self.get_dataset()
        form = ImportForm(request.POST, request.FILES)
        result: services.ImportResult | None = None
        problems: list[Any] = []
        truncated = False
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = services.pairs_import(
                    actor=request.user,
                    dataset=dataset,
                    file=upload,
                    format=form.cleaned_data["format"],
                    domain=form.cleaned_data["domain"] or None,
                    seed=form.cleaned_data["seed"],
                    source_name=upload.name,
                )
            except ImportFailed as exc:
                problems, truncated = exc.problems, exc.truncated
        extra = {
            "import_form": form if result is None else ImportForm(),
            "import_result": result,
            "import_problems": problems,
            "import_truncated": truncated,
        }
        if is_partial_request(request):
            # htmx does not swap error responses, so the problems come back with a 200.
            response = render(
                request,
                "datasets/detail.html#import-result",
                {"dataset": dataset, "project": self.project, **extra},
            )
            if result is not None:
                response["HX-Trigger"] = "pairs-changed"
            return response
        if result is not None:
            messages.success(
                request,
                f"Imported {result.created} pairs ({result.duplicates} duplicates, "
                f"{result.skipped} skipped).",
            )
            return redirect("datasets:detail", project=self.project.slug, dataset=dataset.pk)
        context = self.get_context_data(dataset_obj=dataset, **extra)
        return render(request, self.template_name, context, status=400)


class PairDetailView(ProjectAccessMixin, TemplateView):
    """One pair: the prompt (as turns when it is a transcript) and both responses side by side."""

    template_name = "datasets/pair.html"
    required_capability = Capability.DATASET_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        pair = get_object_or_404(
            Pair.objects.select_related("dataset"),
            pk=self.kwargs["pair"],
            dataset__project=self.project,
        )
        context.update(
            pair=pair,
            turns=selectors.pair_turns(pair=pair),
            metadata=selectors.pair_metadata_rest(pair=pair),
            snapshots=pair.reference_items.select_related("reference_set").order_by(
                "reference_set__name", "reference_set__version"
            ),
        )
        return context


class ReferenceSetListView(ProjectAccessMixin, TemplateView):
    """The project's reference snapshots with their domain mix, and a form for a new one."""

    template_name = "datasets/reference_sets.html"
    required_capability = Capability.DATASET_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rs_filter = ReferenceSetPageFilter(
            self.request.GET or None,
            queryset=selectors.reference_sets_of_project(project=self.project),
            project=self.project,
        )
        context["filter"] = rs_filter
        context["reference_sets"] = (
            rs_filter.qs
            if rs_filter.is_valid()
            else selectors.reference_sets_of_project(project=self.project)
        )
        initial = {"dataset": self.request.GET.get("dataset")}
        context.setdefault("form", ReferenceSetForm(project=self.project, initial=initial))
        context["can_edit"] = Capability.DATASET_EDIT in self.capabilities
        return context


class ReferenceSetCreateView(ReferenceSetListView):
    """POST: freeze a snapshot of a dataset's imported labels (a new version of the name)."""

    required_capability = Capability.DATASET_EDIT
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ReferenceSetForm(request.POST, project=self.project)
        if form.is_valid():
            try:
                reference_set = services.reference_set_create(
                    actor=request.user,
                    project=self.project,
                    name=form.cleaned_data["name"],
                    dataset=form.cleaned_data["dataset"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Snapshot {reference_set.version} of {reference_set.name}: "
                    f"{reference_set.item_count} pairs, {reference_set.unlabelled_count} "
                    "without a label left out.",
                )
                return redirect(
                    "datasets:reference_set",
                    project=self.project.slug,
                    reference_set=reference_set.pk,
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ReferenceSetDetailView(ProjectAccessMixin, TemplateView):
    """One snapshot: its figures and its items (domain filter, paginated)."""

    template_name = "datasets/reference_set.html"
    required_capability = Capability.DATASET_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        reference_set = get_object_or_404(
            ReferenceSet.objects.select_related("dataset", "created_by"),
            pk=self.kwargs["reference_set"],
            project=self.project,
        )
        items = ReferenceItemFilter(
            self.request.GET,
            queryset=selectors.reference_set_items(reference_set=reference_set),
        ).qs
        context.update(
            reference_set=reference_set,
            label_counts=selectors.reference_set_label_counts(reference_set=reference_set),
            selected_domain=self.request.GET.get("domain", ""),
            gold_labels=GoldLabel.values,
            selected_gold=self.request.GET.get("gold_label", ""),
            page_obj=_page(self.request, items),
            versions=ReferenceSet.objects.filter(
                project=self.project, name=reference_set.name
            ).order_by("-version"),
        )
        return context

    def get_template_names(self) -> list[str]:
        return [template_for(self.request, self.template_name, "items")]


class FormatListView(ProjectAccessMixin, TemplateView):
    """Every upload format: what it reads, where pair ids come from, an example file."""

    template_name = "datasets/formats.html"
    required_capability = Capability.DATASET_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["formats"] = upload_formats()
        return context


class FormatExampleView(ProjectAccessMixin, View):
    """Download one format's example file."""

    required_capability = Capability.DATASET_VIEW

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> FileResponse:
        upload_format = UPLOAD_FORMATS.get(kwargs["format"])
        if upload_format is None:
            raise Http404("No such upload format.")
        return FileResponse(
            upload_format.example_path.open("rb"),
            as_attachment=True,
            filename=upload_format.example,
            content_type=upload_format.media_type,
        )
