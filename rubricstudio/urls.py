"""Top-level routes: pages, the API, the site admin and the health check."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from apps.accounts import views as account_views
from apps.core.health import healthz

project_pages: list[URLPattern | URLResolver] = [
    path("", account_views.DashboardView.as_view(), name="dashboard"),
    path("rubrics/", include("apps.rubrics.urls")),
    path("data/", include("apps.datasets.urls")),
    path("annotate/", include("apps.annotations.urls")),
    path("runs/", include("apps.judging.urls")),
    path("alerts/", include("apps.drift.urls")),
    path("forensics/", include("apps.forensics.urls")),
    path("redteam/", include("apps.redteam.urls")),
]

urlpatterns = [
    path("", account_views.HomeView.as_view(), name="home"),
    path("accounts/", include("apps.accounts.urls")),
    path("p/<slug:project>/", include(project_pages)),
    path("api/", include("rubricstudio.api_urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
