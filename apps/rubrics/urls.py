"""Pages of the rubrics app, mounted under /p/<project>/rubrics/."""

from django.urls import path

from apps.rubrics import views

app_name = "rubrics"

_version = "<int:rubric>/v/<int:version>/"
_criterion = _version + "edit/criteria/<int:criterion>/"

urlpatterns = [
    path("", views.RubricListView.as_view(), name="list"),
    path("new/", views.RubricCreateView.as_view(), name="create"),
    path("import/", views.RubricImportView.as_view(), name="import"),
    path("<int:rubric>/", views.RubricDetailView.as_view(), name="detail"),
    path("<int:rubric>/promote/", views.RubricPromoteView.as_view(), name="promote"),
    path(_version, views.VersionDetailView.as_view(), name="version"),
    path(_version + "edit/", views.EditorView.as_view(), name="edit"),
    path(_version + "edit/field/", views.VersionFieldView.as_view(), name="field"),
    path(_version + "edit/criteria/add/", views.CriterionAddView.as_view(), name="criterion-add"),
    path(
        _version + "edit/criteria/reorder/",
        views.CriteriaReorderView.as_view(),
        name="criteria-reorder",
    ),
    path(_criterion, views.CriterionUpdateView.as_view(), name="criterion-update"),
    path(_criterion + "remove/", views.CriterionRemoveView.as_view(), name="criterion-remove"),
    path(_criterion + "move/", views.CriterionMoveView.as_view(), name="criterion-move"),
    path(_version + "preview/", views.VersionPreviewView.as_view(), name="preview"),
    path(_version + "publish/", views.VersionPublishView.as_view(), name="publish"),
    path(_version + "fork/", views.VersionForkView.as_view(), name="fork"),
    path(_version + "diff/", views.VersionDiffView.as_view(), name="diff"),
    path(_version + "export/", views.VersionExportView.as_view(), name="export"),
]
