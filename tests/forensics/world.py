"""Forensics objects of the route-table world: an attribution of the world's drift report and a
judge drift report of the world's rubric under a second offline judge."""

from __future__ import annotations

from typing import Any

from apps.forensics import services
from apps.forensics.models import Attribution, JobStatus
from tests.factories import make_judge


def add_to_world(world: dict[str, Any]) -> None:
    report = world["report"]
    world["attribution"] = Attribution.objects.create(
        project=world["project"],
        report=report,
        status=JobStatus.READY,
        budget=10,
        control_size=0,
        result={"n_flips": 0, "n_controls": 0, "hunks": [], "headline": "world attribution"},
    )
    new_judge = make_judge(
        world["project"], name="World second judge", params={"position_bias": 0.1}
    )
    world["judge_drift_report"] = services.judge_drift_start(
        actor=None,
        old_version=report.baseline_version,
        old_judge=report.judge,
        new_judge=new_judge,
        reference_set=report.reference_set,
        trigger="guard",
        execute=True,
    )
    world["comparison"] = "judge"  # the comparison of a judge-only report
    world["judge_accept_reason"] = "The new judge was validated by hand."
