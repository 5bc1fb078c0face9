"""Forms of the annotation pages: a new queue, a queue's settings, an adjudication."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from apps.accounts.models import Project
from apps.annotations import selectors
from apps.datasets.models import Dataset, GoldLabel
from apps.datasets.selectors import dataset_domain_counts
from apps.rubrics.models import RubricVersion


def _annotator_choices(project: Project) -> Any:
    users = selectors.eligible_annotators(project=project)
    return get_user_model().objects.filter(pk__in=[user.pk for user in users]).order_by("username")


class QueueForm(forms.Form):
    """A new annotation queue: which pairs, how many labels each, who labels, which guidelines."""

    name = forms.CharField(
        max_length=200, required=False, help_text="Defaults to the dataset's name."
    )
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none())
    domains = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to label every domain.",
    )
    rubric_version = forms.ModelChoiceField(
        queryset=RubricVersion.objects.none(),
        required=False,
        label="Guidelines (rubric version)",
        help_text="Its criteria are shown beside each pair and can be labelled one by one.",
    )
    overlap = forms.IntegerField(
        min_value=1, max_value=50, initial=1, help_text="Distinct annotators per pair."
    )
    min_agreement = forms.FloatField(
        min_value=0.01,
        max_value=1,
        initial=0.5,
        label="Consensus threshold",
        help_text="Share of a pair's labels that must agree (0.5 = half, ties excluded).",
    )
    annotators = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(), widget=forms.CheckboxSelectMultiple
    )
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        dataset_field = self.fields["dataset"]
        assert isinstance(dataset_field, forms.ModelChoiceField)
        dataset_field.queryset = Dataset.objects.filter(project=project).order_by("name")
        version_field = self.fields["rubric_version"]
        assert isinstance(version_field, forms.ModelChoiceField)
        version_field.queryset = (
            RubricVersion.objects.filter(rubric__project=project)
            .select_related("rubric")
            .order_by("rubric__name", "-number")
        )
        annotators_field = self.fields["annotators"]
        assert isinstance(annotators_field, forms.ModelMultipleChoiceField)
        annotators_field.queryset = _annotator_choices(project)
        domains_field = self.fields["domains"]
        assert isinstance(domains_field, forms.MultipleChoiceField)
        self.chosen_dataset = self._chosen_dataset()
        chosen = self.chosen_dataset
        counts = dataset_domain_counts(dataset=chosen) if chosen is not None else {}
        domains_field.choices = [(d, f"{d} ({n})") for d, n in counts.items()]

    def _chosen_dataset(self) -> Dataset | None:
        raw = self.data.get("dataset") if self.is_bound else self.initial.get("dataset")
        if isinstance(raw, Dataset):
            return raw
        try:
            pk = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None
        if pk is None:
            return None
        return Dataset.objects.filter(pk=pk, project=self.project).first()


class QueueSettingsForm(forms.Form):
    """What may change once a queue exists."""

    name = forms.CharField(max_length=200)
    min_agreement = forms.FloatField(min_value=0.01, max_value=1, label="Consensus threshold")
    annotators = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(), widget=forms.CheckboxSelectMultiple
    )
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["annotators"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = _annotator_choices(project)


class AdjudicationForm(forms.Form):
    """An admin's label for a disputed pair; an empty label withdraws it."""

    pair = forms.IntegerField()
    label = forms.ChoiceField(choices=[("", "(withdraw)"), *GoldLabel.choices], required=False)
    reason = forms.CharField(required=False, max_length=5000)
