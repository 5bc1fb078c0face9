"""Red-team objects of the route-table world: one queued red team of the world's version."""

from __future__ import annotations

from typing import Any

from apps.redteam.models import RedTeamJob
from tests.factories import make_judge, make_reference_set, make_version


def add_to_world(world: dict[str, Any]) -> None:
    project = world["project"]
    version = world.get("version")
    if version is not None:
        version.refresh_from_db()
    if version is None or not version.is_published:
        version = make_version(project)
    judge = world.get("judge") or make_judge(project, name="World red-team judge")
    reference_set = world.get("reference_set") or make_reference_set(
        project, n_pairs=4, name="World red-team reference"
    )
    world["job"] = RedTeamJob.objects.create(
        project=project,
        rubric_version=version,
        judge=judge,
        reference_set=reference_set,
        targets=["harmlessness"],
    )
