"""Pages of the datasets app, mounted under /p/<project>/data/."""

from django.urls import path

from apps.datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.DatasetListView.as_view(), name="list"),
    path("new/", views.DatasetCreateView.as_view(), name="create"),
    path("<int:dataset>/", views.DatasetDetailView.as_view(), name="detail"),
    path("<int:dataset>/import/", views.DatasetImportView.as_view(), name="import"),
    path("pairs/<int:pair>/", views.PairDetailView.as_view(), name="pair"),
    path("formats/", views.FormatListView.as_view(), name="formats"),
    path(
        "formats/<slug:format>/example/",
        views.FormatExampleView.as_view(),
        name="format_example",
    ),
    path("reference-sets/", views.ReferenceSetListView.as_view(), name="reference_sets"),
    path(
        "reference-sets/new/",
        views.ReferenceSetCreateView.as_view(),
        name="reference_set_create",
    ),
    path(
        "reference-sets/<int:reference_set>/",
        views.ReferenceSetDetailView.as_view(),
        name="reference_set",
    ),
]
