"""The public REST API (see docs/api.md): every app's routes under /api/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.rubrics.api.urls")),
    path("", include("apps.datasets.api.urls")),
    path("", include("apps.annotations.api.urls")),
    path("", include("apps.judging.api.urls")),
    path("", include("apps.drift.api.urls")),
    path("", include("apps.forensics.api.urls")),
    path("", include("apps.redteam.api.urls")),
]
