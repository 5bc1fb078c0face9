"""Pages of the annotations app, mounted under /p/<project>/annotate/."""

from django.urls import path

from apps.annotations import pair_views, views

app_name = "annotations"

urlpatterns = [
    path("", views.QueueListView.as_view(), name="list"),
    path("new/", views.QueueCreateView.as_view(), name="create"),
    path(
        "datasets/<int:dataset>/agreement/",
        views.DatasetAgreementView.as_view(),
        name="dataset_agreement",
    ),
    path("<int:queue>/", views.QueueDetailView.as_view(), name="queue"),
    path("<int:queue>/settings/", views.QueueSettingsView.as_view(), name="queue_settings"),
    path("<int:queue>/labels/", views.QueueLabelsView.as_view(), name="labels"),
    path("<int:queue>/pairs/", pair_views.QueuePairsView.as_view(), name="pairs"),
    path("<int:queue>/adjudicate/", views.AdjudicateView.as_view(), name="adjudicate"),
    path("<int:queue>/export.csv", views.QueueExportView.as_view(), name="export"),
    path("<int:queue>/label/", views.LabelView.as_view(), name="label"),
    path("<int:queue>/label/submit/", views.SubmitView.as_view(), name="submit"),
    path("<int:queue>/label/skip/", views.SkipView.as_view(), name="skip"),
    path("<int:queue>/label/undo/", views.UndoView.as_view(), name="undo"),
]
