"""The form that starts a red team from the pages."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Project
from apps.datasets.models import ReferenceSet
from apps.judging.models import Backend, JudgeConfig
from apps.judging.services import judge_label
from apps.rubrics.models import RubricVersion, VersionStatus

DETERMINISTIC = "deterministic"


class _VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.rubric.name} v{obj.number}"


class _JudgeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return judge_label(obj)


class RedTeamForm(forms.Form):
    """Seed version, judge, reference pairs, targets, editor, budget and seed."""

    rubric_version = _VersionChoiceField(queryset=RubricVersion.objects.none())
    judge = _JudgeChoiceField(queryset=JudgeConfig.objects.none())
    reference_set = forms.ModelChoiceField(queryset=ReferenceSet.objects.none())
    targets = forms.CharField(
        help_text="Target domain(s) of the reference set, comma-separated (e.g. harmlessness).",
        max_length=500,
    )
    benchmark_reference_set = forms.ModelChoiceField(
        queryset=ReferenceSet.objects.none(),
        required=False,
        help_text="Empty: the reference set's other domains are the benchmark.",
    )
    editor = forms.ChoiceField(
        help_text="The deterministic editor (seeded edit operators), or an OpenAI-compatible "
        "judge config used as the rewriter."
    )
    poison_feedback = forms.BooleanField(
        required=False,
        label="Feedback poisoning (LLM editor)",
        help_text="Show the editor target pairs the judge got right as if they were mistakes: "
        "the attack RIPD simulates. Off: the judge's real mistakes.",
    )
    generations = forms.IntegerField(min_value=1, max_value=50, initial=5)
    population = forms.IntegerField(min_value=1, max_value=50, initial=10)
    children = forms.IntegerField(min_value=1, max_value=10, initial=4)
    sample_size = forms.IntegerField(
        min_value=1, initial=200, help_text="Train pairs per generation."
    )
    max_judge_calls = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    cost_cap = forms.DecimalField(min_value=0, required=False, decimal_places=6, max_digits=14)
    benign_k = forms.IntegerField(min_value=0, max_value=20, initial=4, label="Benign paraphrases")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["rubric_version"].queryset = (
            RubricVersion.objects.filter(rubric__project=project, status=VersionStatus.PUBLISHED)
            .select_related("rubric")
            .order_by("rubric__name", "-number")
        )
        judges = JudgeConfig.objects.filter(project=project).order_by("name")
        fields["judge"].queryset = judges
        snapshots = ReferenceSet.objects.filter(project=project).order_by("name", "-version")
        fields["reference_set"].queryset = snapshots
        fields["benchmark_reference_set"].queryset = snapshots
        fields["editor"].choices = [(DETERMINISTIC, "Deterministic editor (seeded operators)")] + [
            (str(j.pk), f"LLM editor: {j.name}") for j in judges if j.backend == Backend.OPENAI
        ]

    def clean_targets(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["targets"].split(",") if t.strip()]

    def clean_editor(self) -> JudgeConfig | None:
        value = self.cleaned_data["editor"]
        if value == DETERMINISTIC:
            return None
        return JudgeConfig.objects.get(pk=int(value))
