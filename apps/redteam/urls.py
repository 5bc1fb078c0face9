"""Pages of the red-team app, mounted under /p/<project>/redteam/."""

from django.urls import path

from apps.redteam import views

app_name = "redteam"

urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("new/", views.JobStartView.as_view(), name="start"),
    path("<int:job>/", views.JobDetailView.as_view(), name="detail"),
    path("<int:job>/progress/", views.JobProgressView.as_view(), name="progress"),
    path("<int:job>/cancel/", views.JobCancelView.as_view(), name="cancel"),
]
