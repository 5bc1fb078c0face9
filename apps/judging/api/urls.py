"""API routes of the judging app, mounted under /api/."""

from rest_framework.routers import SimpleRouter

from apps.judging.api import check_views, views

router = SimpleRouter()
router.register("judges", views.JudgeViewSet, basename="judge")
router.register("runs", views.RunViewSet, basename="run")
router.register("judge-checks", check_views.JudgeCheckViewSet, basename="judge-check")

urlpatterns = [*router.urls]
