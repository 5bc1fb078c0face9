"""Rubric pages: the list, a rubric's history, a version, the htmx draft editor, diff, import
and export, one module per concern.

Views stay thin: they read the request, call a service or a selector and render.
"""

from apps.rubrics.views.editor import (
    CriteriaReorderView,
    CriterionAddView,
    CriterionMoveView,
    CriterionRemoveView,
    CriterionUpdateView,
    EditorView,
    VersionFieldView,
)
from apps.rubrics.views.rubrics import (
    RubricCreateView,
    RubricDetailView,
    RubricImportView,
    RubricListView,
    RubricPromoteView,
)
from apps.rubrics.views.versions import (
    VersionDetailView,
    VersionDiffView,
    VersionExportView,
    VersionForkView,
    VersionPreviewView,
    VersionPublishView,
)

__all__ = [
    "CriteriaReorderView",
    "CriterionAddView",
    "CriterionMoveView",
    "CriterionRemoveView",
    "CriterionUpdateView",
    "EditorView",
    "RubricCreateView",
    "RubricDetailView",
    "RubricImportView",
    "RubricListView",
    "RubricPromoteView",
    "VersionDetailView",
    "VersionDiffView",
    "VersionExportView",
    "VersionFieldView",
    "VersionForkView",
    "VersionPreviewView",
    "VersionPublishView",
]
