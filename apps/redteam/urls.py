"""Pages of the red-team app, mounted under /p/<project>/redteam/."""

from django.urls import path

from apps.redteam import ledger_views, views

app_name = "redteam"

urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("new/", views.JobStartView.as_view(), name="start"),
    path("<int:job>/", views.JobDetailView.as_view(), name="detail"),
    path("<int:job>/progress/", views.JobProgressView.as_view(), name="progress"),
    path("<int:job>/cancel/", views.JobCancelView.as_view(), name="cancel"),
    path("<int:job>/spend/", ledger_views.SpendView.as_view(), name="spend"),
    path("<int:job>/candidates/", ledger_views.CandidatesView.as_view(), name="candidates"),
    path(
        "<int:job>/candidates/<int:candidate>/",
        ledger_views.CandidateView.as_view(),
        name="candidate",
    ),
]
