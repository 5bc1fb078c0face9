"""Text the database refuses: NUL characters, lone surrogates, and over-long lookups.

PostgreSQL cannot store a NUL character in text (psycopg raises ``DataError``) nor in JSON, and
a lone UTF-16 surrogate (``"\\ud800"`` in a JSON body) cannot be encoded as UTF-8 at all. DRF's
``CharField`` refuses NUL, but related fields, filters and URL arguments look values up
without that check, so a NUL in a username answered 500. Every request is checked once, in one
place (``apps.core.middleware.HostileTextMiddleware`` for URL arguments, query strings and form
bodies; ``apps.core.parsers.ObjectJSONParser`` for JSON bodies), and refused with a 400 that
names the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# A URL argument or query value longer than this is no id, slug, name or filter of this app.
MAX_LOOKUP_CHARS = 1000


def text_problem(value: str, *, max_chars: int | None = None) -> str | None:
    """Why ``value`` cannot be stored or looked up, or ``None``."""
    if "\x00" in value:
        return "Null characters are not allowed."
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "Lone surrogate characters are not allowed (the text is not valid Unicode)."
    if max_chars is not None and len(value) > max_chars:
        return f"At most {max_chars} characters here (got {len(value)})."
    return None


def data_problem(
    data: Any, *, field: str = "", max_chars: int | None = None
) -> tuple[str, str] | None:
    """The first ``(field, problem)`` in a parsed body (objects, lists, keys and strings).

    ``field`` is a dotted path (``params.extra_body``, ``annotators.0``), so the error names
    the field that carries the bad text.
    """
    if isinstance(data, str):
        problem = text_problem(data, max_chars=max_chars)
        return (field or "non_field_errors", problem) if problem else None
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{field}.{key}" if field else str(key)
            problem = text_problem(str(key))
            if problem:
                return (field or "non_field_errors", f"A key: {problem}")
            found = data_problem(value, field=name, max_chars=max_chars)
            if found:
                return found
        return None
    if isinstance(data, list | tuple):
        for index, value in enumerate(data):
            found = data_problem(value, field=f"{field}.{index}" if field else str(index))
            if found:
                return found
    return None


def pairs_problem(
    pairs: Iterable[tuple[str, Any]], *, max_chars: int | None = None
) -> tuple[str, str] | None:
    """The first ``(field, problem)`` among name/value pairs (a query string, a form body)."""
    for name, value in pairs:
        problem = text_problem(str(name))
        if problem:
            return ("non_field_errors", f"A parameter name: {problem}")
        if isinstance(value, str):
            problem = text_problem(value, max_chars=max_chars)
            if problem:
                return (str(name), problem)
    return None
