"""Pages of the judging app, mounted under /p/<project>/runs/."""

from django.urls import path

from apps.judging import views

app_name = "judging"

urlpatterns = [
    path("", views.RunListView.as_view(), name="list"),
    path("new/", views.RunStartView.as_view(), name="start"),
    path("new/estimate/", views.RunEstimateView.as_view(), name="estimate"),
    path("judges/", views.JudgeListView.as_view(), name="judges"),
    path("judges/new/", views.JudgeCreateView.as_view(), name="judge_create"),
    path("judges/<int:judge>/check/", views.JudgeCheckStartView.as_view(), name="check_start"),
    path(
        "judges/<int:judge>/checks/<int:check>/",
        views.JudgeCheckDetailView.as_view(),
        name="check",
    ),
    path(
        "judges/<int:judge>/checks/<int:check>/apply/",
        views.JudgeCheckApplyView.as_view(),
        name="check_apply",
    ),
    path("<int:run>/", views.RunDetailView.as_view(), name="detail"),
    path(
        "<int:run>/pairs/<int:pair>/<str:order>/",
        views.JudgmentDetailView.as_view(),
        name="judgment",
    ),
    path("<int:run>/judgments/", views.RunJudgmentsView.as_view(), name="judgments"),
    path("<int:run>/progress/", views.RunProgressView.as_view(), name="progress"),
    path("<int:run>/cancel/", views.RunCancelView.as_view(), name="cancel"),
    path("<int:run>/resume/", views.RunResumeView.as_view(), name="resume"),
]
