"""What every rubric page shares: the rubric and version of the URL, and refusals as messages."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse

from apps.accounts.permissions import ProjectAccessMixin
from apps.core.api import Conflict
from apps.core.forms import service_error_messages
from apps.rubrics.models import Rubric, RubricVersion


class RubricPageMixin(ProjectAccessMixin):
    """Loads the rubric, version and criterion named in the URL, always within the project."""

    def get_rubric(self) -> Rubric:
        return get_object_or_404(Rubric, pk=self.kwargs["rubric"], project=self.project)

    def get_version(self) -> RubricVersion:
        return get_object_or_404(
            RubricVersion.objects.select_related("rubric", "parent", "author"),
            pk=self.kwargs["version"],
            rubric_id=self.kwargs["rubric"],
            rubric__project=self.project,
        )

    def version_url(self, name: str, version: RubricVersion) -> str:
        return reverse(
            f"rubrics:{name}",
            kwargs={
                "project": self.project.slug,
                "rubric": version.rubric_id,
                "version": version.pk,
            },
        )


def show_refusal(request: HttpRequest, error: Exception) -> None:
    """Show a service refusal as a message on the next page."""
    if isinstance(error, ValidationError):
        for problem in service_error_messages(error):
            messages.error(request, problem)
    elif isinstance(error, Conflict):
        detail = error.detail
        text = detail.get("detail", detail) if isinstance(detail, Mapping) else detail
        messages.error(request, str(text))
