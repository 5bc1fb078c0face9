"""API routes of the datasets app, mounted under /api/."""

from rest_framework.routers import SimpleRouter

from apps.datasets.api import views

router = SimpleRouter()
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("pairs", views.PairViewSet, basename="pair")
router.register("reference-sets", views.ReferenceSetViewSet, basename="reference-set")

urlpatterns = [*router.urls]
