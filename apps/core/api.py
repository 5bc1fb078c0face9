"""API plumbing shared by every app."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import URLPattern, URLResolver, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    """409: the request conflicts with the current state (stale revision, refused promotion)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def accepted(obj: Any, detail_route: str, **fields: Any) -> Response:
    """202 for work that goes on in the background: the new object's id and status, any other
    ``fields``, and the URL to follow it at (``detail_route``, reversed with its pk)."""
    body = {
        "id": obj.pk,
        "status": obj.status,
        **fields,
        "url": reverse(detail_route, kwargs={"pk": obj.pk}),
    }
    return Response(body, status=status.HTTP_202_ACCEPTED)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django ``ValidationError`` as 400, so every 4xx has a JSON body."""
    if isinstance(exc, ValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)


class ApiIndexSerializer(serializers.Serializer):
    schema = serializers.URLField(help_text="The OpenAPI schema.")
    docs = serializers.URLField(help_text="The browsable documentation.")
    endpoints = serializers.DictField(
        child=serializers.URLField(), help_text="Every collection, by URL name."
    )


def _collections(patterns: list[Any]) -> list[str]:
    """URL names of the API routes that take no argument (the collections), in URL order."""
    names: list[str] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if not entry.pattern.regex.groupindex:
                names.extend(_collections(entry.url_patterns))
        elif isinstance(entry, URLPattern) and entry.name and not entry.pattern.regex.groupindex:
            names.append(entry.name)
    return names


class ApiIndexView(APIView):
    """``/api/``: where the schema, the docs and every collection are (readable by anyone)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(responses={200: ApiIndexSerializer})
    def get(self, request: Request) -> Response:
        from rubricstudio import api_urls

        own = {"api-root", "schema", "docs"}
        endpoints = {
            name: request.build_absolute_uri(reverse(name))
            for name in _collections(api_urls.urlpatterns)
            if name not in own
        }
        return Response(
            {
                "schema": request.build_absolute_uri(reverse("schema")),
                "docs": request.build_absolute_uri(reverse("docs")),
                "endpoints": endpoints,
            }
        )
