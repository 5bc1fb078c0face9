"""Template filters shared by every page."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


def ago_text(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``moment`` was, in words: "just now" under a minute, else "3 hours ago".

    Django's ``timesince`` says "0 minutes" for anything under a minute, which reads as broken.
    """
    if moment is None:
        return ""
    now = now or timezone.now()
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"


@register.filter
def ago(moment: datetime | None) -> str:
    """``{{ alert.created_at|ago }}``: see :func:`ago_text`."""
    return ago_text(moment)
