"""htmx helpers: full page or partial from one template, progress polling, and messages."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def is_partial_request(request: HttpRequest) -> bool:
    """A non-boosted htmx request wants only the partial, not the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


def template_for(request: HttpRequest, template: str, partial: str) -> str:
    """``template#partial`` (django-template-partials) for htmx requests, else the page."""
    return f"{template}#{partial}" if is_partial_request(request) else template


def no_store(response: Any) -> Any:
    """Polled fragments must never come from a cache."""
    response["Cache-Control"] = "no-store"
    return response


def with_messages(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Add the request's pending messages to an htmx partial, swapped out of band into the
    page's message area: a write answered in place confirms itself where a page would."""
    block = render_to_string(
        "includes/messages.html",
        {"messages": get_messages(request), "oob": True},
        request=request,
    )
    response.content = response.content + block.encode()
    return response
