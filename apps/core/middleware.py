"""Request guards shared by every view."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class UploadSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than the upload limit, before reading it.

    Django only limits non-file form data in memory; a 200 MB upload would otherwise be
    streamed to a temporary file in full before any view could refuse it. Bodies without a
    ``Content-Length`` (chunked) are cut off by ``LimitedUploadHandler`` instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.RUBRICSTUDIO_MAX_UPLOAD_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return JsonResponse(
                {
                    "detail": (
                        f"Upload of {declared:,} bytes refused: the limit is {limit:,} bytes "
                        "(RUBRICSTUDIO_MAX_UPLOAD_BYTES)."
                    )
                },
                status=413,
            )
        return self.get_response(request)


class ApiJsonErrorMiddleware:
    """Every error under ``/api/`` answers JSON, like the API's own errors.

    DRF's exception handler covers errors raised inside API views; a URL the router does not
    match (``/api/rubrics/abc/guard/``) or a refusal by Django itself (a disallowed host, an
    unreadable body) never reaches a view and would answer Django's HTML page. Clients of the
    API parse JSON, so those answers are rewritten to ``{"detail": ...}`` with the same status.
    """

    prefix = "/api/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(self.prefix)
            and "json" not in response.get("Content-Type", "")
        ):
            return JsonResponse(
                {"detail": f"{response.reason_phrase}: {request.method} {request.path}"},
                status=response.status_code,
            )
        return response
