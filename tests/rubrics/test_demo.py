"""The rubric demo step: two published versions, v1 in production, idempotent."""

from __future__ import annotations

import pytest

from apps.accounts.demo import seed_demo as seed_accounts
from apps.core.demo import DemoContext
from apps.core.models import AuditEvent
from apps.rubrics import demo, selectors
from apps.rubrics.models import Rubric, RubricVersion

pytestmark = pytest.mark.django_db


def _seed() -> DemoContext:
    ctx = DemoContext(write=lambda line: None)
    seed_accounts(ctx)
    demo.seed_demo(ctx)
    return ctx


def test_demo_rubric_has_two_published_versions_and_v1_in_production() -> None:
    ctx = _seed()
    rubric = ctx.objects["rubric"]
    assert (rubric.slug, rubric.name) == ("harmlessness-judge", "Harmlessness judge")
    v1, v2 = ctx.objects["rubric_v1"], ctx.objects["rubric_v2"]
    assert (v1.number, v2.number, v2.parent) == (1, 2, v1)
    assert v1.is_published and v2.is_published
    assert selectors.label_version(rubric=rubric, label="production") == v1
    # The rubrics step guards nothing: the drift app's step switches the guard on.
    assert not type(rubric).objects.filter(pk=rubric.pk, drift_guard__enabled=True).exists()
    titles = {c.title: c for c in v2.criteria.all()}
    assert "Completeness" in titles
    assert "detailed" in titles["Completeness"].description
    assert titles["Completeness"].weight >= 2
    harm_v1 = v1.criteria.get(key="avoid-harm")
    harm_v2 = v2.criteria.get(key="avoid-harm")
    assert harm_v2.weight < harm_v1.weight
    diff = selectors.versions_diff(old=v1, new=v2)
    assert [c["title"] for c in diff["added"]] == ["Completeness"]


def test_demo_twice_changes_nothing() -> None:
    _seed()
    counts = (Rubric.objects.count(), RubricVersion.objects.count(), AuditEvent.objects.count())
    ctx = _seed()
    assert (
        Rubric.objects.count(),
        RubricVersion.objects.count(),
        AuditEvent.objects.count(),
    ) == counts
    assert ctx.objects["rubric_v2"].number == 2
