"""Forms of the dataset pages."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Project
from apps.datasets.formats import upload_formats
from apps.datasets.models import Dataset


class DatasetForm(forms.Form):
    """A new, empty dataset."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(forms.Form):
    """An uploaded file of pairs and how to read it."""

    file = forms.FileField(help_text="Plain or gzip-compressed.")
    format = forms.ChoiceField(choices=[(f.name, f.title) for f in upload_formats()])
    domain = forms.CharField(
        required=False,
        max_length=100,
        help_text="For rows without a domain of their own (e.g. helpfulness).",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        initial=0,
        help_text="Seeds the A/B placement where the source has no positions (HH-RLHF).",
    )

    def clean_seed(self) -> int:
        return self.cleaned_data.get("seed") or 0


class ReferenceSetForm(forms.Form):
    """A snapshot of a dataset's imported gold labels."""

    name = forms.CharField(max_length=200)
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none())
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["dataset"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Dataset.objects.filter(project=project).order_by("name")
