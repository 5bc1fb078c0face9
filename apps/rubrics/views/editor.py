"""The htmx draft editor.

Every write of the editor answers with the partial ``write_result`` of ``rubrics/edit.html``: a
status line, the new revision (out of band), the field errors next to their fields (out of band)
and, when the draft moved on under the author, a conflict box with both texts.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.permissions import Capability
from apps.core.forms import service_errors_by_field
from apps.core.htmx import no_store
from apps.rubrics import selectors, services
from apps.rubrics.forms import CHECK_CHOICES, check_from_post
from apps.rubrics.models import Criterion, RubricVersion
from apps.rubrics.spec import CRITERION_KINDS
from apps.rubrics.views.base import RubricPageMixin

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
            by_field = service_errors_by_field(exc)
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
