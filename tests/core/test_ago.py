"""Relative times read "just now" under a minute, never "0 minutes ago"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.templatetags.studio import ago_text

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_under_a_minute_is_just_now() -> None:
    assert ago_text(NOW, NOW) == "just now"
    assert ago_text(NOW - timedelta(seconds=59), NOW) == "just now"


def test_older_moments_name_their_largest_unit() -> None:
    assert ago_text(NOW - timedelta(minutes=1), NOW) == "1\xa0minute ago"
    assert ago_text(NOW - timedelta(hours=3, minutes=20), NOW) == "3\xa0hours ago"


def test_no_moment_is_empty() -> None:
    assert ago_text(None, NOW) == ""
