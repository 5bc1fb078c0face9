"""htmx helpers: full page or partial from one template, and progress polling."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


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
