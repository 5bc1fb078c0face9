"""API routes of the annotations app, mounted under /api/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.annotations.api import views

router = SimpleRouter()
router.register("annotation-queues", views.AnnotationQueueViewSet, basename="annotation-queue")
router.register("annotations", views.AnnotationViewSet, basename="annotation")

urlpatterns = [
    *router.urls,
    path(
        "datasets/<int:pk>/agreement/",
        views.DatasetAgreementViewSet.as_view({"get": "agreement"}),
        name="dataset-agreement",
    ),
]
