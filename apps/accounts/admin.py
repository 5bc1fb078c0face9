from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.accounts import services
from apps.accounts.models import Membership, Project
from apps.core.services import audit_event_record


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class ProjectAdminForm(forms.ModelForm):
    """The webhook URL is checked against the operator's egress policy, as in the API."""

    webhook_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Project
        fields = ["name", "slug", "description", "webhook_url"]

    def clean_webhook_url(self) -> str:
        value = self.cleaned_data.get("webhook_url") or ""
        errors = services.webhook_url_errors(value)
        if errors:
            raise forms.ValidationError(errors["webhook_url"])
        return value


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Changes go through the project service, so webhook changes are audited."""

    form = ProjectAdminForm
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            audit_event_record(
                actor=request.user,
                action="project.create",
                obj=obj,
                after={"name": obj.name, "slug": obj.slug, "webhook_url": obj.webhook_url},
            )
            return
        services.project_update(
            actor=request.user,
            project=obj,
            **{field: getattr(obj, field) for field in services.PROJECT_AUDITED_FIELDS},
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role", "project"]
