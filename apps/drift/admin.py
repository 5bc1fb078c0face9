"""Site admin views of drift objects: read-only, since decisions go through the audited services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.drift.models import DriftAlert, DriftGuard, DriftReport, WebhookDelivery


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DriftReport)
class DriftReportAdmin(_ReadOnly):
    """Reports: resolve alerts in the studio, where the decision is audited and notified."""

    list_display = ["id", "project", "rubric", "baseline_version", "candidate_version", "status"]
    list_filter = ["status", "trigger", "project"]


@admin.register(DriftAlert)
class DriftAlertAdmin(_ReadOnly):
    """Alerts, for reading; approving or blocking happens on the alert page or the API."""

    list_display = ["id", "project", "rubric", "version", "severity", "status", "created_at"]
    list_filter = ["status", "severity", "project"]
    search_fields = ["headline", "reason"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    """Webhook messages and their delivery attempts."""

    list_display = ["id", "alert", "event", "status", "attempts", "response_code", "created_at"]
    list_filter = ["status", "event"]


@admin.register(DriftGuard)
class DriftGuardAdmin(_ReadOnly):
    """Guards, for reading; they are set on the guard page or the API, where changes are audited."""

    list_display = ["rubric", "enabled", "judge", "reference_set", "anchor", "alpha", "updated_at"]
    list_filter = ["enabled"]
