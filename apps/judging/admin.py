"""Site admin for judge configs and runs (runs are read-only: they change only through services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.judging import services
from apps.judging.models import JudgeConfig, JudgingRun, RunChunk


class JudgeConfigAdminForm(forms.ModelForm):
    """The admin's form checks a config like the API and the page do (the operator's policy)."""

    base_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = JudgeConfig
        fields = [
            "project",
            "name",
            "backend",
            "model",
            "base_url",
            "api_key_env",
            "params",
            "concurrency",
            "requests_per_minute",
            "tokens_per_minute",
            "price_in",
            "price_out",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = services.judge_config_errors(
            backend=cleaned.get("backend", ""),
            model=cleaned.get("model", "") or "",
            api_key_env=cleaned.get("api_key_env", "") or "",
            params=cleaned.get("params", {}),
            base_url=cleaned.get("base_url", "") or "",
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(JudgeConfig)
class JudgeConfigAdmin(admin.ModelAdmin):
    """Changes go through the judge service: checked, and recorded in the audit log."""

    form = JudgeConfigAdminForm
    list_display = ["name", "project", "backend", "model", "concurrency", "updated_at"]
    list_filter = ["backend", "project"]
    search_fields = ["name", "model"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.judge_config_save(actor=request.user, judge=obj)


CHUNK_FIELDS: Any = [
    "index",
    "first_id",
    "last_id",
    "size",
    "status",
    "attempts",
    "claimed_at",
    "error",
]


class RunChunkInline(admin.TabularInline):
    model = RunChunk
    extra = 0
    can_delete = False
    fields = CHUNK_FIELDS
    readonly_fields = CHUNK_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JudgingRun)
class JudgingRunAdmin(admin.ModelAdmin):
    """Read-only: counters and status move only through the run services."""

    list_display = ["id", "project", "status", "rubric_version", "judge", "done", "total", "failed"]
    list_filter = ["status", "project"]
    inlines = [RunChunkInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
