"""Site admin for judge configs and runs (runs are read-only: they change only through services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.judging.models import JudgeConfig, JudgingRun, RunChunk


@admin.register(JudgeConfig)
class JudgeConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "backend", "model", "concurrency", "updated_at"]
    list_filter = ["backend", "project"]
    search_fields = ["name", "model"]


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
