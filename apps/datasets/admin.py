from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.datasets.models import Dataset, Pair, ReferenceSet


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "source", "created_at"]
    list_filter = ["project"]
    search_fields = ["name"]


@admin.register(Pair)
class PairAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "external_id", "domain", "gold_label"]
    list_filter = ["domain", "gold_label"]
    search_fields = ["external_id", "content_hash"]
    raw_id_fields = ["dataset"]


@admin.register(ReferenceSet)
class ReferenceSetAdmin(admin.ModelAdmin):
    """Read-only: snapshots are frozen; a change is a new snapshot made in the studio."""

    list_display = ["name", "version", "project", "dataset", "item_count", "created_at"]
    list_filter = ["project"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
