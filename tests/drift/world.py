"""Drift objects of the route-table world: a second published version of the world rubric, its
run, a drift report against the world's first version, and an alert on it."""

from __future__ import annotations

from typing import Any

from apps.drift import services
from apps.drift.models import DriftAlert, ReportStatus
from apps.judging import services as judging_services
from tests.factories import HELPFUL_CRITERIA, make_judge, make_reference_set, make_version


def add_to_world(world: dict[str, Any]) -> None:
    project = world["project"]
    baseline = world.get("version")
    if baseline is not None:
        baseline.refresh_from_db()  # the object in the world may predate its publication
    if baseline is None or not baseline.is_published:
        baseline = make_version(project)
    rubric = baseline.rubric
    judge = world.get("judge") or make_judge(project, name="World drift judge")
    reference_set = world.get("reference_set") or make_reference_set(
        project, n_pairs=4, name="World drift reference"
    )
    baseline_run = world.get("run")
    if baseline_run is None or baseline_run.rubric_version_id != baseline.pk:
        baseline_run = judging_services.run_execute(
            run=judging_services.run_start(
                actor=None,
                rubric_version=baseline,
                judge=judge,
                reference_set=reference_set,
                dispatch=False,
            )
        )
    candidate = make_version(
        rubric.project, rubric=rubric, criteria=HELPFUL_CRITERIA, parent=baseline
    )
    candidate_run = judging_services.run_execute(
        run=judging_services.run_start(
            actor=None,
            rubric_version=candidate,
            judge=baseline_run.judge,
            reference_set=baseline_run.reference_set,
            dispatch=False,
        )
    )
    report = services.drift_report_create(
        actor=None, baseline_run=baseline_run, candidate_run=candidate_run, dispatch=False
    )
    report = services.drift_report_build(report_id=report.pk)
    assert report.status == ReportStatus.READY
    alert = DriftAlert.objects.filter(report=report).first() or DriftAlert.objects.create(
        project=project,
        report=report,
        rubric=rubric,
        version=candidate,
        severity="medium",
        headline="world alert",
    )
    world.setdefault("rubric", rubric)
    world.setdefault("version", baseline)
    world.update(
        report=report,
        alert=alert,
        drift_baseline_run=baseline_run,
        drift_candidate_version=candidate,
        alert_decision="acknowledge",
        alert_reason="Seen.",
        anchor_reason="Trusted after review.",
    )
