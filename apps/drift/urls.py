"""Pages of the drift app, mounted under /p/<project>/alerts/."""

from django.urls import path

from apps.drift import views

app_name = "drift"

urlpatterns = [
    path("", views.InboxView.as_view(), name="inbox"),
    path("<int:alert>/", views.AlertDetailView.as_view(), name="alert"),
    path("<int:alert>/resolve/", views.AlertResolveView.as_view(), name="resolve"),
    path("reports/", views.ReportListView.as_view(), name="reports"),
    path("reports/<int:report>/", views.ReportDetailView.as_view(), name="report"),
    path("reports/<int:report>/status/", views.ReportStatusView.as_view(), name="report_status"),
    path("reports/<int:report>/judge/", views.ReportJudgeView.as_view(), name="report_judge"),
    path("rubrics/<int:rubric>/", views.RubricHistoryView.as_view(), name="rubric_history"),
    path("rubrics/<int:rubric>/guard/", views.GuardView.as_view(), name="guard"),
    path("rubrics/<int:rubric>/guard/anchor/", views.AnchorView.as_view(), name="anchor"),
    path(
        "rubrics/<int:rubric>/v/<int:version>/check/",
        views.CheckVersionView.as_view(),
        name="check",
    ),
    path(
        "rubrics/<int:rubric>/v/<int:version>/gate/",
        views.VersionGateView.as_view(),
        name="version_gate",
    ),
]
