"""Service refusals on pages: a service's ``ValidationError`` as form errors or messages.

Services raise ``ValidationError({field: [problem, ...]})`` (or a bare message); pages show the
problems next to the form field of the same name, or above the form when no field matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def service_errors_by_field(error: ValidationError) -> dict[str, list[str]]:
    """``{field: [problem, ...]}``; a message without a field is under ``"__all__"``."""
    if hasattr(error, "error_dict"):
        return {field: list(problems) for field, problems in error.message_dict.items()}
    return {NON_FIELD_ERRORS: list(error.messages)}


def service_error_messages(error: ValidationError) -> list[str]:
    """One line a problem, ``"field: problem"`` where the problem names a field."""
    return [
        problem if field == NON_FIELD_ERRORS else f"{field}: {problem}"
        for field, problems in service_errors_by_field(error).items()
        for problem in problems
    ]


def form_add_service_errors(
    form: Any, error: ValidationError, *, aliases: Mapping[str, str] | None = None
) -> None:
    """Put a service's problems on ``form``: on the field of that name (or its alias), else above.

    ``aliases`` maps a service's field to the form's when they differ (a run's ``dataset`` is the
    form's ``target``).
    """
    for field, problems in service_errors_by_field(error).items():
        name = (aliases or {}).get(field, field)
        form.add_error(name if name in form.fields else None, problems)
