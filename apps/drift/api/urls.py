"""API routes of the drift app, mounted under /api/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.drift.api import views

router = SimpleRouter()
router.register("drift-reports", views.DriftReportViewSet, basename="drift-report")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = [
    path("rubrics/<int:pk>/guard/", views.RubricGuardView.as_view(), name="rubric-guard"),
    path(
        "rubrics/<int:pk>/guard/anchor/",
        views.RubricGuardAnchorView.as_view(),
        name="rubric-guard-anchor",
    ),
    *router.urls,
]
