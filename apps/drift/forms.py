"""Forms of the drift pages: an alert decision, the rubric's drift guard and its anchor, and the
filter bar of a report's flipped pairs."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from apps.accounts.models import Project
from apps.datasets.models import ReferenceSet
from apps.drift.models import DriftGuard
from apps.drift.selectors import DIRECTIONS, MOVE_FILTERS
from apps.drift.services import DECISIONS
from apps.judging.models import JudgeConfig
from apps.rubrics.models import Rubric, RubricVersion, VersionStatus


class ResolveForm(forms.Form):
    """Approve, block or acknowledge an alert; the service insists on a reason for approve."""

    decision = forms.ChoiceField(
        choices=[(key, key.capitalize()) for key in DECISIONS], widget=forms.HiddenInput
    )
    reason = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Why? (required to approve)"}),
    )


class GuardForm(forms.Form):
    """The drift guard of one rubric. Thresholds are entered in accuracy points (2 = 0.02)."""

    enabled = forms.BooleanField(required=False, label="Guard this rubric")
    reference_set = forms.ModelChoiceField(
        queryset=ReferenceSet.objects.none(), required=False, label="Reference set"
    )
    judge = forms.ModelChoiceField(queryset=JudgeConfig.objects.none(), required=False)
    min_effect_points = forms.FloatField(
        min_value=0, max_value=100, label="Smallest domain drop to flag (points)"
    )
    tolerance_points = forms.FloatField(
        min_value=0, max_value=100, label="Overall tolerance (points)"
    )
    alpha = forms.FloatField(min_value=0.0001, max_value=0.5, label="Significance level (alpha)")

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reference_sets = cast(forms.ModelChoiceField, self.fields["reference_set"])
        reference_sets.queryset = ReferenceSet.objects.filter(project=project).order_by(
            "name", "-version"
        )
        judges = cast(forms.ModelChoiceField, self.fields["judge"])
        judges.queryset = JudgeConfig.objects.filter(project=project).order_by("name")

    @staticmethod
    def initial_for(guard: DriftGuard) -> dict[str, Any]:
        """The form's values for the rubric's current guard."""
        return {
            "enabled": guard.enabled,
            "reference_set": guard.reference_set_id,
            "judge": guard.judge_id,
            "min_effect_points": round(guard.min_effect * 100, 4),
            "tolerance_points": round(guard.tolerance * 100, 4),
            "alpha": guard.alpha,
        }


class VersionChoiceField(forms.ModelChoiceField):
    """A published version, shown by number and message."""

    def label_from_instance(self, obj: Any) -> str:
        return f"v{obj.number}: {obj.message[:60]}"


class AnchorForm(forms.Form):
    """Pin the guard's trusted anchor on a published version of the rubric, with a reason."""

    version = VersionChoiceField(
        queryset=RubricVersion.objects.none(), label="Anchor version", empty_label=None
    )
    reason = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why is this version trusted?"}),
    )

    def __init__(self, *args: Any, rubric: Rubric, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        versions = cast(forms.ModelChoiceField, self.fields["version"])
        versions.queryset = RubricVersion.objects.filter(
            rubric=rubric, status=VersionStatus.PUBLISHED
        ).order_by("-number")


class FlipFilterForm(forms.Form):
    """The filter bar of a report's flipped pairs: domain, direction against the gold label and
    the way the verdict moved. Every field is optional; an unknown value filters nothing."""

    domain = forms.ChoiceField(required=False, label="Domain")
    direction = forms.ChoiceField(
        required=False,
        label="Direction",
        choices=[("", "any"), *DIRECTIONS.items()],
    )
    moves = forms.ChoiceField(
        required=False,
        label="Verdict moved",
        choices=[("", "any way"), *((key, words) for key, (_, _, words) in MOVE_FILTERS.items())],
    )

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        # ``filter-<name>`` ids, as every filter bar has: never the ids of another form.
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["domain"]).choices = [
            ("", "all"),
            *((name, name) for name in domains),
        ]

    def value(self, name: str) -> str:
        """The field's valid value, else an empty string (no filter)."""
        if not self.is_bound:
            return ""
        self.is_valid()  # cleans the form: ``cleaned_data`` keeps only the valid fields
        return str(self.cleaned_data.get(name) or "")
