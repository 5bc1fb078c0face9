"""Forms of the rubric pages. Content rules live in ``services``; these only shape the input."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.rubrics.models import Rubric
from apps.rubrics.spec import CHECK_TYPES


class RubricCreateForm(forms.Form):
    """A new rubric: it opens as an empty draft v1 in the editor."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class PublishForm(forms.Form):
    """Publishing a draft: the change message and the revision the author saw."""

    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    revision = forms.IntegerField(required=False)


class ImportForm(forms.Form):
    """A rubric file: our JSON/YAML export, or a RIPD JSONL lineage of judge prompts."""

    file = forms.FileField(help_text="JSON or YAML export, or a JSONL lineage (.jsonl).")
    name = forms.CharField(
        max_length=200, required=False, help_text="For a new rubric; default: from the file."
    )
    rubric = forms.ModelChoiceField(
        queryset=Rubric.objects.none(),
        required=False,
        empty_label="— a new rubric —",
        help_text="Add the file's versions to this rubric instead.",
    )
    publish = forms.BooleanField(
        required=False,
        help_text="Publish a JSON/YAML version at once (a lineage is always published).",
    )

    def __init__(self, *args: Any, project: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rubric"].queryset = Rubric.objects.filter(project=project).order_by("name")  # type: ignore[attr-defined]


def check_from_post(check_type: str, check_value: str) -> dict[str, Any] | None:
    """The machine check a criterion form describes (``None`` for no check).

    Word limits are numbers; a value that is not a whole number is passed on as text so the
    validator names the problem instead of this form guessing.
    """
    check_type = check_type.strip()
    if not check_type:
        return None
    value: Any = check_value
    if check_type in ("max_words", "min_words") and check_value.strip().isdigit():
        value = int(check_value.strip())
    return {"type": check_type, "value": value}


CHECK_CHOICES = [("", "no machine check"), *((t, t.replace("_", " ")) for t in CHECK_TYPES)]
