"""API routes of the rubrics app, mounted under /api/."""

from rest_framework.routers import SimpleRouter

from apps.rubrics.api import views

router = SimpleRouter()
router.register("rubrics", views.RubricViewSet, basename="rubric")
router.register("rubric-versions", views.RubricVersionViewSet, basename="rubric-version")

urlpatterns = [*router.urls]
