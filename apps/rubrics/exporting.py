"""Downloads of a rubric version as JSON, YAML or Markdown (shared by the API and the pages)."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest

from apps.rubrics.models import RubricVersion
from apps.rubrics.portable import PortableRubric, export_filename, export_rubric

EXPORT_FORMATS = (("json", "JSON"), ("yaml", "YAML"), ("md", "Markdown"))
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "yaml": "application/yaml; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


def portable_version(version: RubricVersion) -> PortableRubric:
    """A version with the metadata a file carries (rubric name, numbers, status, message)."""
    parent = version.parent
    return PortableRubric(
        name=version.rubric.name,
        spec=version.to_spec(),
        description=version.rubric.description,
        version=version.number,
        parent=parent.number
        if parent is not None and parent.rubric_id == version.rubric_id
        else None,
        status=version.status,
        message=version.message,
    )


def export_version(*, version: RubricVersion, fmt: str) -> HttpResponse:
    """The version as a file download; 400 for an unknown format."""
    if fmt not in CONTENT_TYPES:
        return HttpResponseBadRequest(
            f"Unknown format {fmt!r}: use json, yaml or md.", content_type="text/plain"
        )
    portable = portable_version(version)
    body = export_rubric(portable, fmt)  # type: ignore[arg-type]
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    filename = export_filename(portable, fmt)  # type: ignore[arg-type]
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
