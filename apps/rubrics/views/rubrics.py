"""The rubric list, a new rubric, a rubric's history and labels, and importing a rubric file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.html import format_html
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.api import Conflict
from apps.core.forms import form_add_service_errors
from apps.rubrics import selectors, services
from apps.rubrics.forms import ImportForm, RubricCreateForm
from apps.rubrics.models import RubricVersion
from apps.rubrics.views.base import RubricPageMixin, show_refusal


class RubricListView(ProjectAccessMixin, TemplateView):
    """The project's rubrics with their production version and latest drift status."""

    template_name = "rubrics/list.html"
    required_capability = Capability.RUBRIC_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = selectors.rubric_rows(project=self.project)
        return context


class RubricCreateView(ProjectAccessMixin, FormView):
    """A new rubric; it opens in the editor as an empty draft v1."""

    template_name = "rubrics/create.html"
    form_class = RubricCreateForm
    required_capability = Capability.RUBRIC_EDIT

    def form_valid(self, form: RubricCreateForm) -> HttpResponse:
        try:
            rubric = services.rubric_create(
                actor=self.request.user,
                project=self.project,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        draft = services.rubric_version_create(actor=self.request.user, rubric=rubric)
        messages.success(self.request, f"Rubric {rubric.name} created; v1 is a draft.")
        return redirect(
            "rubrics:edit", project=self.project.slug, rubric=rubric.pk, version=draft.pk
        )


class RubricDetailView(RubricPageMixin, TemplateView):
    """A rubric's history: the version tree with authors, messages, times, statuses, labels."""

    template_name = "rubrics/detail.html"
    required_capability = Capability.RUBRIC_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rubric = self.get_rubric()
        context["rubric"] = rubric
        context["tree"] = selectors.version_tree(rubric=rubric)
        context["labels"] = rubric.labels.select_related("version", "moved_by").order_by("name")
        context["published"] = [r.version for r in context["tree"] if r.version.is_published]
        context["latest"] = selectors.latest_published(rubric=rubric)
        return context


class RubricPromoteView(RubricPageMixin, View):
    """Move a label (``production``...) to a published version; the drift gate may refuse."""

    required_capability = Capability.RUBRIC_PROMOTE

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        rubric = self.get_rubric()
        version = get_object_or_404(
            RubricVersion, pk=request.POST.get("version") or 0, rubric=rubric
        )
        label = request.POST.get("label") or services.DEFAULT_LABEL
        try:
            services.rubric_label_move(
                actor=request.user, rubric=rubric, version=version, label=label
            )
        except Conflict as exc:
            detail: Mapping[str, Any] = exc.detail if isinstance(exc.detail, Mapping) else {}
            page = (detail.get("links") or {}).get("page")
            if page:
                # The refusal points at the alert or report to look at: link it (escaped).
                reason = str(detail.get("detail", ""))
                messages.error(request, format_html('{} <a href="{}">Open it</a>', reason, page))
            else:
                show_refusal(request, exc)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"{label} now points at v{version.number}.")
        return redirect("rubrics:detail", project=self.project.slug, rubric=rubric.pk)


class RubricImportView(ProjectAccessMixin, FormView):
    """Upload a rubric file: a new rubric or new versions of an existing one."""

    template_name = "rubrics/import.html"
    form_class = ImportForm
    required_capability = Capability.RUBRIC_EDIT

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["project"] = self.project
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        rubric = self.request.GET.get("rubric", "")
        if rubric.isdigit():
            initial["rubric"] = int(rubric)
        return initial

    def form_valid(self, form: ImportForm) -> HttpResponse:
        upload = form.cleaned_data["file"]
        try:
            result = services.rubric_import(
                actor=self.request.user,
                project=self.project,
                filename=upload.name or "",
                data=upload.read(),
                name=form.cleaned_data.get("name") or None,
                rubric=form.cleaned_data.get("rubric"),
                publish=form.cleaned_data.get("publish", False),
            )
        except services.ImportFailed as exc:
            context = self.get_context_data(form=form, import_errors=exc.errors)
            return self.render_to_response(context, status=400)
        count = len(result.versions)
        messages.success(
            self.request,
            f"Imported {count} version{'s' if count != 1 else ''} into {result.rubric.name}.",
        )
        return redirect("rubrics:detail", project=self.project.slug, rubric=result.rubric.pk)
