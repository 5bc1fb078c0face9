"""Judging objects of the route-table world: a judge, a finished run and a finished check."""

from __future__ import annotations

from typing import Any

from apps.judging import check, services
from tests.factories import make_judge, make_reference_set, make_version


def add_to_world(world: dict[str, Any]) -> None:
    project = world["project"]
    version = world.get("version")
    if version is None or not version.is_published:
        version = make_version(project)
    reference_set = world.get("reference_set") or make_reference_set(
        project, n_pairs=4, name="World reference"
    )
    judge = make_judge(project, name="World judge")
    run = services.run_start(
        actor=None, rubric_version=version, judge=judge, reference_set=reference_set, dispatch=False
    )
    world["judge"] = judge
    world["run"] = services.run_execute(run=run)
    # The judgment page of the route table: the world pair (in the world reference set) in A,B.
    world["order"] = "AB"
    started = check.judge_check_start(actor=None, judge=judge, dispatch=False)
    world["check"] = check.judge_check_execute(check=started)
