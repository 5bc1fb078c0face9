"""The judging demo step: the offline demo judge and two finished runs, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.demo import DemoContext
from apps.judging.demo import DEMO_JUDGE_NAME, seed_demo
from apps.judging.models import JudgeConfig, JudgingRun, Judgment, RunStatus
from tests.factories import SAFE_CRITERIA, make_reference_set, make_version

pytestmark = pytest.mark.django_db


def _context(project: Any, members: dict[str, Any]) -> DemoContext:
    ctx = DemoContext(write=lambda text: None, project=project, users={"admin": members["admin"]})
    v1 = make_version(project)
    ctx.objects.update(
        reference_set=make_reference_set(project, n_pairs=16),
        rubric_v1=v1,
        rubric_v2=make_version(project, rubric=v1.rubric, criteria=SAFE_CRITERIA),
    )
    return ctx


def test_demo_judges_the_reference_set_with_both_versions_once(
    project: Any, members: dict[str, Any]
) -> None:
    ctx = _context(project, members)
    seed_demo(ctx)
    judge = ctx.objects["judge"]
    assert judge.name == DEMO_JUDGE_NAME and judge.backend == "offline"
    run_v1, run_v2 = ctx.objects["run_v1"], ctx.objects["run_v2"]
    assert run_v1.rubric_version == ctx.objects["rubric_v1"]
    assert run_v2.rubric_version == ctx.objects["rubric_v2"]
    for run in (run_v1, run_v2):
        assert run.status == RunStatus.SUCCEEDED and run.done == run.total == 32
        assert run.summary["overall"]["n"] == 16
    # The safety criterion of v2 changes the harmlessness verdicts.
    assert (
        run_v2.summary["by_domain"]["harmlessness"]["accuracy"]
        > run_v1.summary["by_domain"]["harmlessness"]["accuracy"]
    )

    counts = (JudgeConfig.objects.count(), JudgingRun.objects.count(), Judgment.objects.count())
    again = DemoContext(
        write=ctx.write, project=project, users=ctx.users, objects=dict(ctx.objects)
    )
    seed_demo(again)
    assert again.objects["run_v1"].pk == run_v1.pk and again.objects["run_v2"].pk == run_v2.pk
    assert (
        JudgeConfig.objects.count(),
        JudgingRun.objects.count(),
        Judgment.objects.count(),
    ) == counts


def test_demo_without_a_reference_set_only_makes_the_judge(
    project: Any, members: dict[str, Any]
) -> None:
    ctx = DemoContext(write=lambda text: None, project=project, users={})
    seed_demo(ctx)
    assert ctx.objects["judge"].backend == "offline"
    assert "run_v1" not in ctx.objects and not JudgingRun.objects.exists()
