"""Judge drift reports: the same rubric version judged by two judge configs (or one config
before and after an edit in place), compared with the drift app's statistics and flags; with a
second version, the 2 x 2 of rubric x judge (``factorial``).

``judge_drift_start`` reuses finished runs and starts the missing ones; ``forensics.
await_judge_drift`` calls ``judge_drift_advance`` until they have ended, then
``judge_drift_build`` stores the comparisons, flags, blame and headline.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.permissions import Capability, check_capability
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import ReferenceSet
from apps.drift.flags import DriftThresholds
from apps.drift.hooks import judge_identity
from apps.drift.selectors import guard_thresholds
from apps.drift.services import (
    BUILT,
    WAITING,
    RunsNotComparable,
    runs_compare,
)
from apps.forensics.models import (
    JobStatus,
    JudgeDriftKind,
    JudgeDriftReport,
    JudgeDriftTrigger,
)
from apps.forensics.services.factorial import (
    FACTORIAL_COMPARISONS,
    JUDGE_COMPARISON,
    analysis_effects,
    blame_of,
    judge_drift_headline,
)
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from apps.rubrics.models import Rubric, RubricVersion

JUDGE_DRIFT_RUN_PURPOSE = "judge-drift"


def judge_state(judge: JudgeConfig) -> dict[str, Any]:
    """What a report keeps of a judge config (never a key): its id, name and identity
    (``apps.drift.hooks.judge_identity``: backend, model, endpoint, answer-shaping params)."""
    return {"id": judge.pk, "name": judge.name, **judge_identity(judge)}


def _run_before_edit(
    version: RubricVersion, judge: JudgeConfig, reference_set: ReferenceSet
) -> JudgingRun | None:
    """The newest succeeded run of ``version`` on this judge and snapshot made before the
    judge config was last edited: what the config answered before the edit."""
    if judge.updated_at is None:
        return None
    return (
        JudgingRun.objects.filter(
            rubric_version=version,
            judge=judge,
            reference_set=reference_set,
            status=RunStatus.SUCCEEDED,
            created_at__lt=judge.updated_at,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _judge_drift_errors(
    *,
    rubric: Rubric,
    old_version: RubricVersion,
    new_version: RubricVersion | None,
    old_judge: JudgeConfig,
    new_judge: JudgeConfig,
    reference_set: ReferenceSet,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    project_id = rubric.project_id
    if old_judge.pk == new_judge.pk:
        versions = [v for v in (old_version, new_version) if v is not None]
        missing = [v for v in versions if _run_before_edit(v, old_judge, reference_set) is None]
        if missing:
            errors["new_judge"] = [
                "Compare two different judge configs, or one config edited since a finished "
                f"run of v{missing[0].number} on this snapshot (there is none)."
            ]
    for field, judge in (("old_judge", old_judge), ("new_judge", new_judge)):
        if judge.project_id != project_id:
            errors[field] = ["That judge belongs to another project."]
    if reference_set.project_id != project_id:
        errors["reference_set"] = ["That reference set belongs to another project."]
    for field, version in (("old_version", old_version), ("new_version", new_version)):
        if version is None:
            continue
        if version.rubric_id != rubric.pk:
            errors[field] = ["The versions must belong to the same rubric."]
        elif not version.is_published:
            errors[field] = [f"v{version.number} is not published; publish it first."]
    if new_version is not None and new_version.pk == old_version.pk:
        errors["new_version"] = ["For the 2 x 2 give a second, different version."]
    return errors


def judge_drift_start(
    *,
    actor: Any,
    old_version: RubricVersion,
    old_judge: JudgeConfig,
    new_judge: JudgeConfig,
    reference_set: ReferenceSet,
    new_version: RubricVersion | None = None,
    trigger: str = JudgeDriftTrigger.MANUAL,
    execute: bool = False,
    drift_report: Any = None,
) -> JudgeDriftReport:
    """A judge drift report: ``old_version`` judged by both judges (and, with ``new_version``,
    the 2 x 2 of both versions x both judges). Reuses finished runs, starts the missing ones.

    A manual report needs ``run.start`` of ``actor``; the guard's check is allowed by the guard
    edit that causes it. With
    ``execute`` the runs are judged in this process and the report is built before returning;
    ``drift_report`` is the drift report whose judge moved, for a split started for it;
    otherwise the runs go to the workers and ``forensics.await_judge_drift`` builds it.
    The same config as old and new judge compares it before and after its last edit (a model
    snapshot, an endpoint or a temperature changed in place): the old side is the newest
    finished run made before the edit. Refuses (``ValidationError``) the same judge when no
    such run exists, objects of another project, and unpublished versions.
    """
    rubric = old_version.rubric
    if trigger == JudgeDriftTrigger.MANUAL:
        check_capability(actor, rubric.project, Capability.RUN_START)
    errors = _judge_drift_errors(
        rubric=rubric,
        old_version=old_version,
        new_version=new_version,
        old_judge=old_judge,
        new_judge=new_judge,
        reference_set=reference_set,
    )
    if errors:
        raise ValidationError(errors)
    started: list[JudgingRun] = []

    edited = old_judge.pk == new_judge.pk

    def run_for(
        version: RubricVersion, judge: JudgeConfig, *, before_edit: bool = False
    ) -> JudgingRun:
        if before_edit:
            found = _run_before_edit(version, judge, reference_set)
            assert found is not None  # checked by _judge_drift_errors
            return found
        run, new = judging_services.run_reuse_or_start(
            actor=actor,
            rubric_version=version,
            judge=judge,
            reference_set=reference_set,
            purpose=JUDGE_DRIFT_RUN_PURPOSE,
            execute=execute,
        )
        if new:
            started.append(run)
        return run

    kind = JudgeDriftKind.FACTORIAL if new_version is not None else JudgeDriftKind.JUDGE
    with transaction.atomic():
        runs = {
            "run_old": run_for(old_version, old_judge, before_edit=edited),
            "run_new_judge": run_for(old_version, new_judge),
        }
        if new_version is not None:
            runs["run_new_rubric"] = run_for(new_version, old_judge, before_edit=edited)
            runs["run_both"] = run_for(new_version, new_judge)
        old_state = judge_state(old_judge)
        if edited:
            # The config's earlier values are not kept; the report names when the edit was.
            old_state = {
                "id": old_judge.pk,
                "name": old_judge.name,
                "edited_at": str(old_judge.updated_at),
            }
        report = JudgeDriftReport.objects.create(
            project_id=rubric.project_id,
            rubric=rubric,
            kind=kind,
            trigger=trigger,
            reference_set=reference_set,
            old_version=old_version,
            new_version=new_version,
            old_judge=old_judge,
            new_judge=new_judge,
            old_judge_state=old_state,
            new_judge_state=judge_state(new_judge),
            thresholds=asdict(guard_thresholds(rubric)),
            created_by=actor_or_none(actor),
            drift_report=drift_report,
            **runs,
        )
        audit_event_record(
            actor=actor,
            action="judge_drift.create",
            obj=report,
            after={
                "kind": kind,
                "trigger": trigger,
                "old_judge": old_state,
                "new_judge": judge_state(new_judge),
                "old_version": old_version.pk,
                "new_version": new_version.pk if new_version else None,
                "runs": {name: run.pk for name, run in runs.items()},
            },
        )
        if not execute:
            transaction.on_commit(partial(_dispatch_await, report.pk))
    if execute:
        for run in started:
            judging_services.run_execute(run=run)
        report = judge_drift_build(report_id=report.pk)
    return report


def _dispatch_await(report_id: int) -> None:
    from apps.forensics import tasks

    tasks.await_judge_drift.delay(report_id)


def _dispatch_cleared(rubric_id: int) -> None:
    from apps.forensics import tasks

    tasks.guard_judge_cleared.delay(rubric_id)


def judge_drift_advance(*, report_id: int) -> str:
    """Build the report once all its runs have ended; ``"waiting"`` until then."""
    report = JudgeDriftReport.objects.select_related(
        "run_old", "run_new_judge", "run_new_rubric", "run_both"
    ).get(pk=report_id)
    if report.status != JobStatus.PENDING:
        return str(report.status)
    if any(not run.is_finished for run in report.runs()):
        return WAITING
    judge_drift_build(report_id=report_id)
    return BUILT


def judge_drift_build(*, report_id: int) -> JudgeDriftReport:
    """Compute a pending judge drift report from its finished runs and store it (audited)."""
    report = JudgeDriftReport.objects.select_related(
        "run_old", "run_new_judge", "run_new_rubric", "run_both"
    ).get(pk=report_id)
    if report.status != JobStatus.PENDING:
        return report
    thresholds = DriftThresholds(**report.thresholds)
    comparisons: dict[str, dict[str, Any]] = {}
    flags: list[dict[str, Any]] = []
    named = (JUDGE_COMPARISON,) if report.kind == JudgeDriftKind.JUDGE else FACTORIAL_COMPARISONS
    try:
        for name, cause, before, after in named:
            comparisons[name], found = runs_compare(
                baseline_run=getattr(report, before),
                candidate_run=getattr(report, after),
                thresholds=thresholds,
            )
            flags.extend({**flag, "comparison": name, "cause": cause} for flag in found)
    except RunsNotComparable as exc:
        return _judge_drift_fail(report, str(exc))
    except ValueError as exc:
        return _judge_drift_fail(report, f"The statistics failed: {exc}")
    stats: dict[str, Any] = {"comparisons": comparisons}
    if report.kind == JudgeDriftKind.FACTORIAL:
        stats["effects"] = analysis_effects(comparisons)
    blame = blame_of(flags)
    with transaction.atomic():
        locked = JudgeDriftReport.objects.select_for_update().get(pk=report.pk)
        if locked.status != JobStatus.PENDING:
            return locked
        locked.stats = stats
        locked.flags = flags
        locked.blame = blame
        locked.headline = judge_drift_headline(locked.kind, blame, stats)[:500]
        locked.status = JobStatus.READY
        locked.finished_at = timezone.now()
        locked.save(update_fields=["stats", "flags", "blame", "headline", "status", "finished_at"])
        audit_event_record(
            actor=None,
            action="judge_drift.ready",
            obj=locked,
            after={"blame": blame, "flags": [f"{f['cause']}:{f['kind']}" for f in flags]},
        )
        if locked.kind == JudgeDriftKind.JUDGE and not flags:
            # It may clear a guard's judge: the checks that waited for it start again.
            transaction.on_commit(partial(_dispatch_cleared, locked.rubric_id))
    return locked


def _judge_drift_fail(report: JudgeDriftReport, reason: str) -> JudgeDriftReport:
    with transaction.atomic():
        report.status = JobStatus.FAILED
        report.error = reason[:4000]
        report.finished_at = timezone.now()
        report.save(update_fields=["status", "error", "finished_at"])
        audit_event_record(
            actor=None, action="judge_drift.fail", obj=report, after={"reason": reason}
        )
    return report
