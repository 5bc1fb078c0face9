"""Request guards shared by every view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.html import escape

from apps.core.hostile_text import MAX_LOOKUP_CHARS, pairs_problem


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


class HostileTextMiddleware:
    """Refuse, with a 400 naming the field, text no lookup or column can take (``hostile_text``).

    Checked before any view runs: URL arguments and query values (NUL, lone surrogates, more
    than ``MAX_LOOKUP_CHARS``) and url-encoded form bodies (NUL). JSON and multipart bodies of
    the API are checked by its parsers (``apps.core.parsers``). API paths answer JSON, pages a
    plain escaped message.
    """

    # Multipart bodies are left to the parsers (API) and forms (pages): reading them here would
    # move upload errors out of the views that report them.
    FORM_TYPES = ("application/x-www-form-urlencoded",)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        found = pairs_problem(
            [(str(k), v) for k, v in view_kwargs.items()], max_chars=MAX_LOOKUP_CHARS
        ) or pairs_problem(request.GET.items(), max_chars=MAX_LOOKUP_CHARS)
        if found is None and request.content_type in self.FORM_TYPES:
            found = pairs_problem((k, v) for k, values in request.POST.lists() for v in values)
        if found is None:
            return None
        field, problem = found
        if request.path.startswith(ApiJsonErrorMiddleware.prefix):
            return JsonResponse({field: [problem]}, status=400)
        return HttpResponseBadRequest(
            f"{escape(field)}: {escape(problem)}", content_type="text/plain; charset=utf-8"
        )
