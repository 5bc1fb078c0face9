"""One version: its read-only page, the judge-prompt preview, publish, fork, diff and export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability
from apps.core.api import Conflict
from apps.core.htmx import no_store
from apps.rubrics import hooks, selectors, services
from apps.rubrics.exporting import EXPORT_FORMATS, export_version
from apps.rubrics.forms import PublishForm
from apps.rubrics.models import RubricVersion
from apps.rubrics.views.base import RubricPageMixin, show_refusal
from apps.rubrics.views.editor import EDIT_TEMPLATE


class VersionDetailView(RubricPageMixin, TemplateView):
    """A version, read only: its gate badge and the blocks other apps add (the drift check of a
    guarded version, polled while it runs), its content, the judge-prompt preview, its actions."""

    template_name = "rubrics/version.html"
    required_capability = Capability.RUBRIC_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        version = self.get_version()
        context.update(
            rubric=version.rubric,
            version=version,
            criteria=list(version.criteria.all()),
            labels=list(version.labels.values_list("name", flat=True)),
            preview=selectors.version_preview(version=version),
            export_formats=EXPORT_FORMATS,
            gate=selectors.version_gate(version) if version.is_published else None,
            panels=hooks.version_panels(version),
        )
        return context


class VersionForkView(RubricPageMixin, View):
    """A new draft from this version (forking an old version and publishing it is a rollback)."""

    required_capability = Capability.RUBRIC_EDIT

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        version = self.get_version()
        draft = services.rubric_version_fork(actor=request.user, version=version)
        messages.success(request, f"Draft v{draft.number} forked from v{version.number}.")
        return HttpResponseRedirect(self.version_url("edit", draft))


class VersionPublishView(RubricPageMixin, View):
    """Publish the draft with a change message."""

    required_capability = Capability.RUBRIC_EDIT

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        version = self.get_version()
        form = PublishForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Write a change message before publishing.")
            return HttpResponseRedirect(self.version_url("edit", version))
        try:
            services.rubric_version_publish(
                actor=request.user,
                version=version,
                message=form.cleaned_data["message"],
                revision=form.cleaned_data.get("revision"),
            )
        except (Conflict, ValidationError) as exc:
            show_refusal(request, exc)
            target = "version" if version.is_published else "edit"
            return HttpResponseRedirect(self.version_url(target, version))
        messages.success(request, f"Published v{version.number}.")
        return HttpResponseRedirect(self.version_url("version", version))


class VersionDiffView(RubricPageMixin, TemplateView):
    """Side-by-side diff of two versions (default: the version and its parent)."""

    template_name = "rubrics/diff.html"
    required_capability = Capability.RUBRIC_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        version = self.get_version()
        against_raw = self.request.GET.get("against", "")
        if against_raw.isdigit():
            old: RubricVersion | None = get_object_or_404(
                RubricVersion, pk=int(against_raw), rubric__project=self.project
            )
        else:
            old = selectors.diff_base(version=version)
        context.update(
            rubric=version.rubric,
            version=version,
            old=old,
            diff=selectors.versions_diff(old=old, new=version),
            choices=version.rubric.versions.exclude(pk=version.pk).order_by("-number"),
        )
        return context


class VersionExportView(RubricPageMixin, View):
    """Download a version as JSON, YAML or Markdown."""

    required_capability = Capability.RUBRIC_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return export_version(version=self.get_version(), fmt=request.GET.get("format", "json"))


class VersionPreviewView(RubricPageMixin, View):
    """The live preview: the exact judge prompt for the sample pair and its token estimate."""

    required_capability = Capability.RUBRIC_VIEW

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        version = self.get_version()
        order = "BA" if request.GET.get("order") == "BA" else "AB"
        context = {
            "project": self.project,
            "version": version,
            "rubric": version.rubric,
            "preview": selectors.version_preview(version=version, order=order),
            "order": order,
        }
        return no_store(render(request, f"{EDIT_TEMPLATE}#preview", context))
