"""Failed-login throttling, shared by the login page and the token endpoint.

Counts failures per (username, client address) in the cache (Redis in production, so every web
process sees the same count) for ``LOGIN_FAILURE_WINDOW``.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _key(username: str, request: HttpRequest) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{username.lower()}|{address}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_blocked(username: str, request: HttpRequest) -> bool:
    """Whether this username from this address has failed too often recently."""
    return int(cache.get(_key(username, request), 0)) >= settings.LOGIN_FAILURE_LIMIT


def login_failed(username: str, request: HttpRequest) -> None:
    """Count one failed attempt."""
    key = _key(username, request)
    timeout = int(settings.LOGIN_FAILURE_WINDOW.total_seconds())
    if cache.add(key, 1, timeout):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)


def login_succeeded(username: str, request: HttpRequest) -> None:
    """Forget earlier failures."""
    cache.delete(_key(username, request))
