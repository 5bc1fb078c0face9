"""Rubric pages: list, history, the htmx draft editor, diff, import and export.

Views stay thin: they read the request, call a service or a selector and render. Every write of
the editor answers with the partial ``write_result`` of ``rubrics/edit.html``: a status line, the
new revision (out of band), the field errors next to their fields (out of band) and, when the
draft moved on under the author, a conflict box with both texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.api import Conflict
from apps.core.htmx import no_store
from apps.rubrics import selectors, services
from apps.rubrics.exporting import EXPORT_FORMATS, export_version
from apps.rubrics.forms import (
    CHECK_CHOICES,
    ImportForm,
    PublishForm,
    RubricCreateForm,
    check_from_post,
)
from apps.rubrics.models import Criterion, Rubric, RubricVersion
from apps.rubrics.spec import CRITERION_KINDS

EDIT_TEMPLATE = "rubrics/edit.html"
VERSION_FIELDS = (
    ("instructions", "Instructions"),
    ("template", "Template"),
    ("output_format", "Output format"),
)
CRITERION_FIELDS = (
    ("title", "Title"),
    ("description", "Description"),
    ("weight", "Weight"),
    ("kind", "Kind"),
    ("check", "Machine check"),
)


class RubricPageMixin(ProjectAccessMixin):
    """Loads the rubric, version and criterion named in the URL, always within the project."""

    def get_rubric(self) -> Rubric:
        return get_object_or_404(Rubric, pk=self.kwargs["rubric"], project=self.project)

    def get_version(self) -> RubricVersion:
        return get_object_or_404(
            RubricVersion.objects.select_related("rubric", "parent", "author"),
            pk=self.kwargs["version"],
            rubric_id=self.kwargs["rubric"],
            rubric__project=self.project,
        )

    def version_url(self, name: str, version: RubricVersion) -> str:
        return reverse(
            f"rubrics:{name}",
            kwargs={
                "project": self.project.slug,
                "rubric": version.rubric_id,
                "version": version.pk,
            },
        )


def _fail(request: HttpRequest, error: Exception) -> None:
    """Show a service refusal as a message on the next page."""
    if isinstance(error, ValidationError):
        for field, problems in _errors_by_field(error).items():
            for problem in problems:
                messages.error(request, f"{field}: {problem}" if field != "__all__" else problem)
    elif isinstance(error, Conflict):
        detail = error.detail
        text = detail.get("detail", detail) if isinstance(detail, Mapping) else detail
        messages.error(request, str(text))


def _errors_by_field(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: list(problems) for field, problems in error.message_dict.items()}
    return {"__all__": list(error.messages)}


# --- rubric list, creation, history ----------------------------------------------------------


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
            for field, problems in _errors_by_field(exc).items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
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
                _fail(request, exc)
        except ValidationError as exc:
            _fail(request, exc)
        else:
            messages.success(request, f"{label} now points at v{version.number}.")
        return redirect("rubrics:detail", project=self.project.slug, rubric=rubric.pk)


# --- one version -----------------------------------------------------------------------------


class VersionDetailView(RubricPageMixin, TemplateView):
    """A version, read only: its content, the judge-prompt preview, its actions."""

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
            _fail(request, exc)
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


# --- the draft editor ------------------------------------------------------------------------


class EditorView(RubricPageMixin, TemplateView):
    """The draft editor; a published version redirects to its read-only page."""

    template_name = EDIT_TEMPLATE
    required_capability = Capability.RUBRIC_EDIT

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        version = self.get_version()
        if version.is_published:
            messages.info(request, f"v{version.number} is published; fork it to make changes.")
            return HttpResponseRedirect(self.version_url("version", version))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        version = self.get_version()
        context.update(_editor_context(version))
        context["preview"] = selectors.version_preview(version=version)
        context["order"] = "AB"
        return context


def _editor_context(version: RubricVersion) -> dict[str, Any]:
    return {
        "rubric": version.rubric,
        "version": version,
        "criteria": list(version.criteria.all()),
        "kinds": CRITERION_KINDS,
        "check_choices": CHECK_CHOICES,
        "output_formats": services.OUTPUT_FORMATS,
    }


def _error_id(field: str, criterion_pk: int | None = None) -> str:
    """The id of the element that shows a field's errors in the editor."""
    return f"crit-{criterion_pk}-err-{field}" if criterion_pk is not None else f"err-{field}"


class DraftWriteView(RubricPageMixin, View):
    """Base of the editor's htmx writes: revision check, errors, conflicts, the result partial.

    Subclasses implement ``write(version, revision)`` (returning the status line) and may
    override ``error_slots``/``slot_fields`` (where field errors show) and ``conflict``/
    ``describe`` (what the conflict box shows as theirs and yours).
    """

    required_capability = Capability.RUBRIC_EDIT
    structural = False  # re-render the criteria list after the write

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        version = self.get_version()
        resolving = "resolve_revision" in request.POST
        raw = request.POST.get("resolve_revision") or request.POST.get("revision", "")
        revision = int(raw) if raw.strip().isdigit() else -1
        context: dict[str, Any] = {"project": self.project, **_editor_context(version)}
        context["errors"] = self.error_slots()
        try:
            status_text = self.write(version, revision)
        except services.StaleRevision as exc:
            context.update(conflict=self.conflict(exc.version), revision=exc.version.revision)
            context["errors"] = []
            return self.respond(context, status=409, saved=False)
        except services.VersionNotDraft:
            context.update(published=True, revision=version.revision, errors=[])
            return self.respond(context, status=409, saved=False)
        except ValidationError as exc:
            by_field = _errors_by_field(exc)
            context["errors"] = [
                (slot, field, by_field.get(field, [])) for slot, field, _ in context["errors"]
            ]
            unplaced = [m for f, ms in by_field.items() for m in ms if f not in self.slot_fields()]
            context.update(
                failed=True,
                status_text="Not saved: fix the problem shown next to the field.",
                unplaced=unplaced,
                revision=RubricVersion.objects.get(pk=version.pk).revision,
            )
            return self.respond(context, status=422, saved=False)
        fresh = RubricVersion.objects.get(pk=version.pk)
        context.update(_editor_context(fresh))
        context.update(status_text=status_text, revision=fresh.revision, structural=self.structural)
        response = self.respond(context, status=200, saved=True)
        if resolving:
            response["HX-Refresh"] = "true"
        return response

    def respond(self, context: dict[str, Any], *, status: int, saved: bool) -> HttpResponse:
        response = render(self.request, f"{EDIT_TEMPLATE}#write_result", context, status=status)
        if saved:
            response["HX-Trigger"] = "rubric-saved"
        return no_store(response)

    # -- hooks ---------------------------------------------------------------------------------

    def write(self, version: RubricVersion, revision: int) -> str:
        raise NotImplementedError

    def slot_fields(self) -> list[str]:
        return []

    def error_slots(self) -> list[tuple[str, str, list[str]]]:
        """(element id, field, messages) for every error slot this write may fill or clear."""
        return []

    def conflict(self, current: RubricVersion) -> dict[str, Any]:
        """What the conflict box shows: the fields, theirs and yours."""
        titles = "\n".join(f"{n}. {c.title}" for n, c in enumerate(current.criteria.all(), start=1))
        return {
            "rows": [{"label": "Criteria", "theirs": titles, "yours": self.describe()}],
            "resend": [],
        }

    def describe(self) -> str:
        return "your change"


class VersionFieldView(DraftWriteView):
    """Save the instructions, the template or the output format of a draft."""

    def present(self) -> list[tuple[str, str]]:
        return [(name, label) for name, label in VERSION_FIELDS if name in self.request.POST]

    def slot_fields(self) -> list[str]:
        return [name for name, _ in self.present()]

    def error_slots(self) -> list[tuple[str, str, list[str]]]:
        return [(_error_id(name), name, []) for name, _ in self.present()]

    def write(self, version: RubricVersion, revision: int) -> str:
        fields = {name: self.request.POST[name] for name, _ in self.present()}
        if not fields:
            raise ValidationError("Nothing to save.")
        services.rubric_version_update(
            actor=self.request.user,
            version=version,
            revision=revision,
            instructions=fields.get("instructions"),
            template=fields.get("template"),
            output_format=fields.get("output_format"),
        )
        return f"Saved {', '.join(label.lower() for _, label in self.present())}."

    def conflict(self, current: RubricVersion) -> dict[str, Any]:
        rows = [
            {
                "label": label,
                "theirs": getattr(current, name),
                "yours": self.request.POST[name],
            }
            for name, label in self.present()
        ]
        resend = [(name, self.request.POST[name]) for name, _ in self.present()]
        return {"rows": rows, "resend": resend}


class CriterionWriteMixin:
    """Finds the criterion of the URL inside the draft of the URL."""

    kwargs: dict[str, Any]
    request: HttpRequest

    def get_criterion(self, version: RubricVersion) -> Criterion:
        return get_object_or_404(Criterion, pk=self.kwargs["criterion"], version=version)


class CriterionUpdateView(CriterionWriteMixin, DraftWriteView):
    """Save the fields of one criterion (title, description, weight, kind, machine check)."""

    def fields(self) -> dict[str, Any]:
        post = self.request.POST
        fields: dict[str, Any] = {
            name: post[name] for name in ("title", "description", "weight", "kind") if name in post
        }
        if "check_type" in post:
            fields["check"] = check_from_post(post["check_type"], post.get("check_value", ""))
        return fields

    def slot_fields(self) -> list[str]:
        return list(self.fields())

    def error_slots(self) -> list[tuple[str, str, list[str]]]:
        return [(_error_id(name, self.kwargs["criterion"]), name, []) for name in self.fields()]

    def write(self, version: RubricVersion, revision: int) -> str:
        criterion = Criterion.objects.filter(pk=self.kwargs["criterion"], version=version).first()
        if criterion is None:
            # Removed by someone else: the author's text is still in the form.
            current = RubricVersion.objects.get(pk=version.pk)
            raise services.StaleRevision(version=current, sent=revision)
        services.criterion_update(
            actor=self.request.user, criterion=criterion, revision=revision, **self.fields()
        )
        return f"Saved criterion “{self.fields().get('title', criterion.title)}”."

    def conflict(self, current: RubricVersion) -> dict[str, Any]:
        theirs = Criterion.objects.filter(pk=self.kwargs["criterion"], version=current).first()
        rows = []
        resend: list[tuple[str, str]] = []
        for name, label in CRITERION_FIELDS:
            if name == "check":
                if "check_type" not in self.request.POST:
                    continue
                mine = self.request.POST.get("check_type", "")
                if mine:
                    mine = f"{mine}: {self.request.POST.get('check_value', '')}"
                their = theirs.machine_check if theirs else None
                their_text = f"{their.get('type')}: {their.get('value')}" if their else ""
                resend += [
                    ("check_type", self.request.POST.get("check_type", "")),
                    ("check_value", self.request.POST.get("check_value", "")),
                ]
                rows.append({"label": label, "theirs": their_text, "yours": mine})
                continue
            if name not in self.request.POST:
                continue
            rows.append(
                {
                    "label": label,
                    "theirs": (str(getattr(theirs, name)) if theirs else "(criterion removed)"),
                    "yours": self.request.POST[name],
                }
            )
            resend.append((name, self.request.POST[name]))
        return {"rows": rows, "resend": resend if theirs else []}


class CriterionAddView(DraftWriteView):
    """Append a new criterion to the draft."""

    structural = True

    def write(self, version: RubricVersion, revision: int) -> str:
        title = self.request.POST.get("title", "").strip() or "New criterion"
        services.criterion_add(
            actor=self.request.user, version=version, revision=revision, title=title
        )
        return f"Added criterion “{title}”."

    def describe(self) -> str:
        return "add a criterion"


class CriterionRemoveView(CriterionWriteMixin, DraftWriteView):
    """Remove one criterion from the draft."""

    structural = True

    def write(self, version: RubricVersion, revision: int) -> str:
        criterion = self.get_criterion(version)
        services.criterion_remove(actor=self.request.user, criterion=criterion, revision=revision)
        return f"Removed criterion “{criterion.title}”."

    def describe(self) -> str:
        return "remove a criterion"


class CriterionMoveView(CriterionWriteMixin, DraftWriteView):
    """Move one criterion up or down."""

    structural = True

    def write(self, version: RubricVersion, revision: int) -> str:
        criterion = self.get_criterion(version)
        offset = -1 if self.request.POST.get("offset") == "-1" else 1
        services.criterion_move(
            actor=self.request.user, criterion=criterion, revision=revision, offset=offset
        )
        return f"Moved criterion “{criterion.title}” {'up' if offset < 0 else 'down'}."

    def describe(self) -> str:
        return "move a criterion"


class CriteriaReorderView(DraftWriteView):
    """Put the criteria in the order the author dragged them to."""

    structural = True

    def write(self, version: RubricVersion, revision: int) -> str:
        raw = self.request.POST.get("order", "")
        try:
            order = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise ValidationError({"order": ["Expected criterion ids."]}) from None
        services.criteria_reorder(
            actor=self.request.user, version=version, revision=revision, order=order
        )
        return "Reordered the criteria."

    def describe(self) -> str:
        return "reorder the criteria"


# --- import ----------------------------------------------------------------------------------


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
