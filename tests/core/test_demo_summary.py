"""``manage.py demo`` run twice: the second summary says what is there now, not what was made."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import Membership, Role
from apps.drift import services as drift_services
from apps.drift.models import DriftAlert

pytestmark = pytest.mark.django_db


def _demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_second_run_reports_the_current_state() -> None:
    first = _demo()
    assert "drift alert (high, open) on v2" in first
    assert first.count("has the password") == 4
    assert Membership.objects.get(project__slug="demo", user__username="viewer").role == Role.VIEWER

    alert = DriftAlert.objects.get()
    admin = Membership.objects.get(project__slug="demo", user__username="admin").user
    drift_services.alert_resolve(
        actor=admin, alert=alert, decision="approve", reason="Checked by hand: the labels were off."
    )

    second = _demo()
    for line in (
        "dataset Demo pairs: 48 pairs (already there)",
        "annotation queue 'Demo labelling': 0 label(s) so far",
        "(rubric v1): succeeded, 96 judgments",
        "(rubric v2): succeeded, 96 judgments",
        "drift guard of Harmlessness judge: on",
        "drift alert (high, approved) on v2",
        "production label on v1",
    ):
        assert line in second, line
    assert "has the password" not in second
    assert "admin, author, annotator, viewer already existed" in second


def test_new_passwords_replace_the_old_ones() -> None:
    _demo()
    admin = Membership.objects.get(project__slug="demo", user__username="admin").user
    old = admin.password
    out = _demo("--new-passwords")
    assert out.count("has the password") == 4
    admin.refresh_from_db()
    assert admin.password != old
