"""Site admin for rubrics: published versions and their criteria are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.rubrics import services
from apps.rubrics.models import Criterion, Rubric, RubricLabel, RubricVersion


class CriterionInline(admin.TabularInline):
    """Criteria of a version, editable only while the version is a draft."""

    model = Criterion
    extra = 0
    fields = ["position", "key", "title", "description", "weight", "kind", "machine_check"]

    def _published(self, obj: Any) -> bool:
        return obj is not None and obj.is_published

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._published(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._published(obj) and super().has_delete_permission(request, obj)


@admin.register(RubricVersion)
class RubricVersionAdmin(admin.ModelAdmin):
    """Versions: drafts are editable here too; published ones are shown read-only."""

    list_display = ["__str__", "status", "author", "published_at", "content_hash"]
    list_filter = ["status", "rubric__project"]
    search_fields = ["rubric__name", "message"]
    inlines = [CriterionInline]
    readonly_fields = ["status", "content_hash", "revision", "published_at", "created_at"]
    raw_id_fields = ["parent"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Keep the optimistic-concurrency counter moving for edits made here as well.
        if change:
            obj.revision += 1
        super().save_model(request, obj, form, change)


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    """Rubrics (their drift guards are listed under the drift app)."""

    list_display = ["name", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "slug"]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.rubric_delete(actor=request.user, rubric=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for rubric in queryset:
            services.rubric_delete(actor=request.user, rubric=rubric)


@admin.register(RubricLabel)
class RubricLabelAdmin(admin.ModelAdmin):
    """Labels are moved through the promotion gate (the rubric page), never edited here."""

    list_display = ["rubric", "name", "version", "moved_by", "moved_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
