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
