"""Forms of the judging pages: starting a run and creating a judge config."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from apps.accounts.models import Project
from apps.datasets.models import Dataset, ReferenceSet
from apps.judging import judge_policy, services
from apps.judging.models import Backend, JudgeConfig
from apps.rubrics.models import RubricVersion, VersionStatus


class _JudgeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return services.judge_label(obj)


class _VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.rubric.name} v{obj.number}"


class RunStartForm(forms.Form):
    """Rubric version x judge x target (a reference snapshot or a whole dataset)."""

    rubric_version = _VersionChoiceField(queryset=RubricVersion.objects.none())
    judge = _JudgeChoiceField(queryset=JudgeConfig.objects.none())
    target = forms.ChoiceField(
        help_text="A reference snapshot (gold labels: accuracy) or a whole dataset."
    )
    use_cache = forms.BooleanField(
        required=False,
        initial=True,
        label="Reuse cached answers",
        help_text="Identical requests answered before are copied instead of asked again.",
    )
    check_override = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason to start despite a failed judge check",
        help_text="Only needed when the judge's last check failed; recorded in the audit log.",
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        fields: Any = self.fields
        fields["rubric_version"].queryset = (
            RubricVersion.objects.filter(rubric__project=project, status=VersionStatus.PUBLISHED)
            .select_related("rubric")
            .order_by("rubric__name", "-number")
        )
        fields["judge"].queryset = JudgeConfig.objects.filter(project=project).order_by("name")
        snapshots = [
            (f"rs:{rs.pk}", f"{rs.name} (snapshot {rs.version}, {rs.item_count} pairs)")
            for rs in ReferenceSet.objects.filter(project=project).order_by("name", "-version")
        ]
        datasets = [(f"ds:{ds.pk}", ds.name) for ds in Dataset.objects.filter(project=project)]
        fields["target"].choices = [
            ("", "---------"),
            ("Reference sets", snapshots),
            ("Datasets", datasets),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["reference_set"] = cleaned["dataset"] = None
        target = cleaned.get("target") or ""
        kind, _, raw = target.partition(":")
        try:
            pk = int(raw)
        except ValueError:
            return cleaned
        if kind == "rs":
            cleaned["reference_set"] = ReferenceSet.objects.filter(
                project=self.project, pk=pk
            ).first()
        elif kind == "ds":
            cleaned["dataset"] = Dataset.objects.filter(project=self.project, pk=pk).first()
        if cleaned["reference_set"] is None and cleaned["dataset"] is None:
            self.add_error("target", "Choose a reference set or a dataset of this project.")
        return cleaned


class JudgeConfigForm(forms.Form):
    """A new judge config. The key stays in the workers' environment; name its variable here."""

    name = forms.CharField(max_length=100)
    backend = forms.ChoiceField(choices=Backend.choices)
    model = forms.CharField(
        max_length=200, required=False, help_text="Model name, or a local model's path."
    )
    base_url = forms.URLField(
        required=False,
        assume_scheme="http",
        help_text="For an OpenAI-compatible server, e.g. http://vllm:8000/v1",
    )
    api_key_env = forms.CharField(
        max_length=100,
        required=False,
        label="API key variable",
        help_text="The NAME of the environment variable holding the key (e.g. OPENAI_API_KEY).",
    )
    params = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        initial="{}",
        help_text='JSON: {"temperature": 0, "max_tokens": 16, "mode": "verdict"}',
    )
    concurrency = forms.IntegerField(min_value=1, max_value=1024, initial=8)
    price_in = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=6, label="Price in / 1M"
    )
    price_out = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=6, label="Price out / 1M"
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        fields: Any = self.fields
        # The operator's choices, by name only (never a value).
        declared = judge_policy.egress.policy().judge_keys
        fields["api_key_env"].help_text = "Declared by the operator: " + (
            "; ".join(f"{name} (for {', '.join(urls)})" for name, urls in sorted(declared.items()))
            or "none"
        )
        models = judge_policy.local_model_choices()
        fields["model"].help_text = "Model name; for a local model one of the operator's: " + (
            ", ".join(models) or "none"
        )

    def clean_params(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("params") or "{}"
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = services.judge_config_errors(
            backend=cleaned.get("backend", ""),
            model=cleaned.get("model", ""),
            api_key_env=cleaned.get("api_key_env", ""),
            params=cleaned.get("params", {}),
            base_url=cleaned.get("base_url", "") or "",
        )
        for field, messages in errors.items():
            for message in messages:
                if field in self.fields and field not in self.errors:
                    self.add_error(field, message)
        name = cleaned.get("name")
        if name and JudgeConfig.objects.filter(project=self.project, name=name).exists():
            self.add_error("name", "A judge with this name already exists.")
        return cleaned
