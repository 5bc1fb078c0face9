"""Site admin for annotation data: for looking, not editing (changes go through the studio)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.annotations.models import Adjudication, Annotation, AnnotationQueue, Assignment


class ReadOnlyAdmin(admin.ModelAdmin):
    """Labels, assignments and adjudications are written by services that keep them
    consistent (slots, audit log), so the site admin only shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AnnotationQueue)
class AnnotationQueueAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "dataset", "overlap", "min_agreement", "created_at"]
    list_filter = ["project"]
    search_fields = ["name"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "queue", "pair", "annotator", "slot", "status", "assigned_at"]
    list_filter = ["status", "queue"]
    raw_id_fields = ["queue", "pair", "annotator"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["id", "queue", "pair", "annotator", "choice", "imported", "created_at"]
    list_filter = ["imported", "choice", "queue"]
    raw_id_fields = ["queue", "assignment", "pair", "annotator"]


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    list_display = ["id", "queue", "pair", "label", "decided_by", "decided_at"]
    raw_id_fields = ["queue", "pair", "decided_by"]
