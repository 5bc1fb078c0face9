"""The demo step: one queue on the demo dataset for the demo annotator, made once."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Role
from apps.annotations.demo import DEMO_QUEUE_NAME, seed_demo
from apps.annotations.models import AnnotationQueue
from apps.core.demo import DemoContext
from tests.factories import criteria_for, make_simple_dataset, make_version

pytestmark = pytest.mark.django_db


def context(project: Any, make_user: Any, **objects: Any) -> DemoContext:
    ctx = DemoContext(write=lambda line: None, project=project)
    ctx.users = {
        "admin": make_user(f"demo-admin-{len(objects)}", project=project, role=Role.ADMIN),
        "annotator": make_user(f"demo-ann-{len(objects)}", project=project, role=Role.ANNOTATOR),
    }
    ctx.objects.update(objects)
    return ctx


def test_demo_queue_is_made_once(project: Any, make_user: Any) -> None:
    dataset = make_simple_dataset(project, n=3)
    version = make_version(project, criteria=criteria_for("helpful", "safe"), published=False)
    ctx = context(project, make_user, dataset=dataset, rubric_v1=version)
    seed_demo(ctx)
    seed_demo(ctx)
    queue = AnnotationQueue.objects.get(project=project)
    assert ctx.objects["queue"] == queue
    assert (queue.name, queue.overlap, queue.dataset, queue.rubric_version) == (
        DEMO_QUEUE_NAME,
        1,
        dataset,
        version,
    )
    assert list(queue.annotators.all()) == [ctx.users["annotator"]]


def test_demo_without_a_dataset_makes_no_queue(project: Any, make_user: Any) -> None:
    lines: list[str] = []
    ctx = context(project, make_user)
    ctx.write = lines.append
    seed_demo(ctx)
    assert not AnnotationQueue.objects.exists()
    assert "queue" not in ctx.objects
    assert any("skipped" in line for line in lines)
