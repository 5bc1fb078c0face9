"""API routes of the red-team app, mounted under /api/."""

from rest_framework.routers import SimpleRouter

from apps.redteam.api import views

router = SimpleRouter()
router.register("redteams", views.RedTeamViewSet, basename="redteam")

urlpatterns = [*router.urls]
