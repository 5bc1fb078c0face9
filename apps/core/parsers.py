"""Request parsers of the API (kept apart from ``api.py``: DRF imports them with its views)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from apps.core.hostile_text import data_problem, pairs_problem


class ObjectJSONParser(JSONParser):
    """JSON bodies of this API are objects; anything else is a 400, not a crash in a view.

    Views read fields with ``request.data.get(...)``; a body of ``"text"`` or ``[1, 2]`` is
    valid JSON that would reach them as a string or a list.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise exceptions.ParseError(
                f"The request body must be a JSON object, not {type(data).__name__}."
            )
        # NUL characters and lone surrogates, in any field of any endpoint (hostile_text).
        found = data_problem(data)
        if found is not None:
            field, problem = found
            raise exceptions.ValidationError({field: [problem]})
        return data


def _refuse_bad_pairs(data: Any) -> None:
    found = pairs_problem((k, v) for k, values in data.lists() for v in values)
    if found is not None:
        field, problem = found
        raise exceptions.ValidationError({field: [problem]})


class CheckedFormParser(FormParser):
    """Form bodies, refused with a 400 naming the field when a value holds a NUL character."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_bad_pairs(data)
        return data


class CheckedMultiPartParser(MultiPartParser):
    """Multipart bodies: the same check on the form fields (file contents are the importers')."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_bad_pairs(parsed.data)
        return parsed
