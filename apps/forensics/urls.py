"""Pages of drift forensics, mounted under /p/<project>/forensics/."""

from django.urls import path

from apps.forensics import views

app_name = "forensics"

urlpatterns = [
    path("reports/<int:report>/", views.PanelView.as_view(), name="panel"),
    path("reports/<int:report>/attribute/", views.AttributeView.as_view(), name="attribute"),
    path("judge-drift/<int:pk>/", views.JudgeDriftDetailView.as_view(), name="judge_drift"),
    path(
        "judge-drift/<int:pk>/flips/<str:comparison>/",
        views.JudgeDriftFlipsView.as_view(),
        name="judge_drift_flips",
    ),
    path(
        "rubrics/<int:rubric>/guard-judge-check/",
        views.GuardJudgeCheckView.as_view(),
        name="guard_judge_check",
    ),
    path(
        "judge-drift/<int:pk>/accept/",
        views.JudgeDriftAcceptView.as_view(),
        name="judge_drift_accept",
    ),
]
