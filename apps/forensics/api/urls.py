"""API routes of drift forensics, mounted under /api/."""

from rest_framework.routers import SimpleRouter

from apps.forensics.api import views

router = SimpleRouter()
router.register("attributions", views.AttributionViewSet, basename="attribution")
router.register("judge-drift-reports", views.JudgeDriftReportViewSet, basename="judge-drift-report")

urlpatterns = [*router.urls]
