"""Writes of drift forensics: clause attribution jobs, judge drift reports, the guard's check of
a new judge.

Attribution (``attribution_start`` then, on a worker, ``attribution_execute``):

1. The report's rubric diff is split into hunks (``hunks.split_hunks``).
2. The pairs are the report's flipped pairs plus a seeded sample of its unflipped pairs.
3. Variants: the full baseline and candidate (normally all cache hits: the report's runs
   answered them), and per hunk the candidate with it reverted and the baseline with it
   applied. They are judged through the judging cache (``probing``) within the job's budget.
4. ``analysis.attribute`` gives each hunk's share with its interval and paired test; when no
   hunk explains enough, pairs of hunks are reverted together with what is left of the budget.

Judge drift (``judge_drift_start``; built by ``forensics.await_judge_drift``): the same rubric
version judged by two judge configs, compared with ``apps.drift.stats`` (same statistics and
flags as a rubric drift report); with a second version, the 2 x 2 of rubric x judge.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.permissions import Capability, check_capability
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import Pair, ReferenceItem, ReferenceSet
from apps.drift.flags import DriftThresholds
from apps.drift.models import DriftReport, ReportStatus
from apps.drift.selectors import guard_thresholds, paired_records
from apps.drift.services import BOOTSTRAP_SEED, N_BOOTSTRAP
from apps.drift.stats import PairedOutcomes, compute_drift_report
from apps.forensics import analysis, probing
from apps.forensics.hunks import apply_hunks, split_hunks
from apps.forensics.models import (
    Attribution,
    Blame,
    JobStatus,
    JudgeDriftKind,
    JudgeDriftReport,
    JudgeDriftTrigger,
)
from apps.judging import selectors as judging_selectors
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from apps.rubrics.models import Rubric, RubricVersion
from apps.rubrics.selectors import label_version, latest_published

log = logging.getLogger(__name__)

JUDGE_DRIFT_RUN_PURPOSE = "judge-drift"


def default_budget() -> int:
    """Judge calls an attribution may spend when none is asked for (setting)."""
    return int(settings.FORENSICS_ATTRIBUTION_BUDGET)


def default_control_size() -> int:
    """Unflipped pairs in an attribution's control sample when none is asked for (setting)."""
    return int(settings.FORENSICS_CONTROL_PAIRS)


# --- clause attribution -------------------------------------------------------------------------


def attribution_start(
    *,
    actor: Any,
    report: DriftReport,
    budget: int | None = None,
    control_size: int | None = None,
    seed: int = 0,
    dispatch: bool = True,
    system: bool = False,
) -> Attribution:
    """Queue the clause attribution of a ready drift report (authors and admins; audited).

    ``system`` is the automatic start when an alert opens (no actor, no permission to check).

    Refuses (``ValidationError``) a report that is not ready, has no flip, or whose two versions
    have the same content, and a budget or control size below zero. An attribution still
    waiting or running for the report is returned instead of a second one.
    """
    if not system:
        check_capability(actor, report.project, Capability.RUN_START)
    budget = default_budget() if budget is None else budget
    control_size = default_control_size() if control_size is None else control_size
    errors: dict[str, list[str]] = {}
    if report.status != ReportStatus.READY:
        errors["report"] = [f"Report {report.pk} is {report.status}; attribute a ready report."]
    elif not report.stats.get("flipped"):
        errors["report"] = [f"Report {report.pk} has no flipped pair to attribute."]
    if budget < 0:
        errors["budget"] = ["A number of judge calls, 0 or more."]
    if control_size < 0:
        errors["control_size"] = ["A number of unflipped pairs, 0 or more."]
    if seed < 0:
        errors["seed"] = ["A non-negative integer."]
    if not errors and not split_hunks(
        report.baseline_version.to_spec(), report.candidate_version.to_spec()
    ):
        errors["report"] = ["The two versions have the same content: there is no hunk."]
    if errors:
        raise ValidationError(errors)
    active = Attribution.objects.filter(
        report=report, status__in=(JobStatus.PENDING, JobStatus.RUNNING)
    ).first()
    if active is not None:
        return active
    with transaction.atomic():
        job = Attribution.objects.create(
            project_id=report.project_id,
            report=report,
            budget=budget,
            control_size=control_size,
            seed=seed,
            created_by=actor_or_none(actor),
        )
        audit_event_record(
            actor=actor,
            action="attribution.start",
            obj=job,
            after={
                "report": report.pk,
                "budget": budget,
                "control_size": control_size,
                "seed": seed,
            },
        )
        if dispatch:
            transaction.on_commit(partial(_dispatch_attribution, job.pk, report.judge.backend))
    return job


def attribution_auto_start(*, report_id: int) -> Attribution | None:
    """The attribution a new drift alert asks for (system actor; audited like any other).

    Returns None, without error, for a report that cannot be attributed (no flip, no hunk).
    """
    report = DriftReport.objects.select_related(
        "project", "baseline_version", "candidate_version", "judge"
    ).get(pk=report_id)
    try:
        return attribution_start(actor=None, report=report, system=True)
    except ValidationError as exc:
        log.info("drift report %s is not attributed: %s", report_id, "; ".join(exc.messages))
        return None


def _dispatch_attribution(job_id: int, backend: str) -> None:
    from apps.forensics import tasks

    tasks.attribution_task_for(backend).delay(job_id)


def control_sample(report: DriftReport, flipped: set[int], size: int, seed: int) -> list[int]:
    """A seeded sample of the report's unflipped pairs (pair ids, sorted)."""
    unflipped = sorted(
        set(
            ReferenceItem.objects.filter(reference_set_id=report.reference_set_id).values_list(
                "pair_id", flat=True
            )
        )
        - flipped
    )
    if size >= len(unflipped):
        return unflipped
    return sorted(random.Random(seed).sample(unflipped, size))  # noqa: S311 - a sample, not a secret


def attribution_execute(*, attribution_id: int) -> Attribution:
    """Run a pending attribution (in a worker): judge the variants, store the result.

    A budget too small for the single-hunk variants fails the job with the number of calls it
    needs (nothing is sent); interactions that do not fit in what is left are skipped and the
    result says so.
    """
    now = timezone.now()
    # A job still "running" past the hard time limit lost its worker (the message comes back,
    # acks_late): it may be taken again. Answers it already got are in the cache.
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status=JobStatus.PENDING) | Q(status=JobStatus.RUNNING, started_at__lt=stale)
    claimed = (
        Attribution.objects.filter(pk=attribution_id)
        .filter(claimable)
        .update(status=JobStatus.RUNNING, started_at=now)
    )
    job = Attribution.objects.select_related(
        "report__baseline_version", "report__candidate_version", "report__judge"
    ).get(pk=attribution_id)
    if not claimed:
        return job
    try:
        result, spent = _attribute(job)
    except (probing.BudgetExceeded, ValueError) as exc:
        return _attribution_fail(job, str(exc))
    except Exception as exc:
        _attribution_fail(job, f"{type(exc).__name__}: {exc}")
        raise
    with transaction.atomic():
        job.status = JobStatus.READY
        job.result = result
        job.calls, job.cache_hits, job.requests = spent
        job.finished_at = timezone.now()
        job.error = ""
        job.save(
            update_fields=[
                "status",
                "result",
                "calls",
                "cache_hits",
                "requests",
                "finished_at",
                "error",
            ]
        )
        audit_event_record(
            actor=None,
            action="attribution.ready",
            obj=job,
            after={
                "headline": result.get("headline"),
                "top": result.get("top"),
                "calls": job.calls,
            },
        )
    return job


def _attribution_fail(job: Attribution, reason: str) -> Attribution:
    with transaction.atomic():
        job.status = JobStatus.FAILED
        job.error = reason[:4000]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        audit_event_record(actor=None, action="attribution.fail", obj=job, after={"reason": reason})
    return job


def _attribute(job: Attribution) -> tuple[dict[str, Any], tuple[int, int, int]]:
    """The attribution's result and (calls, cache hits, requests)."""
    report = job.report
    old, new = report.baseline_version.to_spec(), report.candidate_version.to_spec()
    hunks = split_hunks(old, new)
    if not hunks:
        raise ValueError("The two versions have the same content: there is no hunk.")
    flipped = {int(f["pair_id"]) for f in report.stats.get("flipped") or [] if f.get("pair_id")}
    controls = control_sample(report, flipped, job.control_size, job.seed)
    pairs = probing.pair_texts(Pair.objects.filter(pk__in=flipped | set(controls)))
    ids = [h.id for h in hunks]
    variants = {"baseline": old, "candidate": new}
    for hunk in hunks:
        variants[f"revert:{hunk.id}"] = apply_hunks(old, new, [i for i in ids if i != hunk.id])
        variants[f"apply:{hunk.id}"] = apply_hunks(old, new, [hunk.id])
    judge = report.judge
    plan = probing.probe_plan(judge, variants, pairs)
    outcome = probing.probe_execute(judge, plan, budget=job.budget)
    verdicts = outcome.verdicts
    baseline, candidate = verdicts["baseline"], verdicts["candidate"]
    # The flips as this judge gives them now; with the cache they are the report's flips.
    flips = sorted(p for p in flipped if p in pairs and baseline[p] != candidate[p])
    kept_controls = [p for p in controls if baseline[p] == candidate[p]]
    result = analysis.attribute(
        hunks=hunks,
        flips=flips,
        controls=kept_controls,
        baseline=baseline,
        candidate=candidate,
        reverted={h.id: verdicts[f"revert:{h.id}"] for h in hunks},
        applied={h.id: verdicts[f"apply:{h.id}"] for h in hunks},
    )
    result["flips_in_report"] = len(flipped)
    result["interactions"] = []
    result["interactions_note"] = ""
    calls, hits, requests = outcome.calls, outcome.cache_hits, outcome.requests
    if analysis.needs_interactions(result):
        candidates = analysis.interaction_candidates(result)
        combined = {
            f"revert:{a}+{b}": apply_hunks(old, new, [i for i in ids if i not in (a, b)])
            for a, b in candidates
        }
        more = probing.probe_plan(judge, combined, pairs)
        left = job.budget - calls
        if more.calls_needed > left:
            result["interactions_note"] = (
                f"Pairs of hunks were not tested: they need {more.calls_needed} more judge "
                f"calls and {left} are left of the budget."
            )
        else:
            extra = probing.probe_execute(judge, more, budget=left)
            calls, hits, requests = (
                calls + extra.calls,
                hits + extra.cache_hits,
                requests + extra.requests,
            )
            result["interactions"] = analysis.interactions(
                result=result,
                pairs=candidates,
                flips=flips,
                controls=kept_controls,
                baseline=baseline,
                candidate=candidate,
                reverted={(a, b): extra.verdicts[f"revert:{a}+{b}"] for a, b in candidates},
            )
            if not result["interactions"]:
                result["interactions_note"] = (
                    "No pair of hunks reverted together explains more flips than one alone."
                )
    result["calls"], result["cache_hits"], result["requests"] = calls, hits, requests
    return result, (calls, hits, requests)


# --- judge drift --------------------------------------------------------------------------------


def judge_state(judge: JudgeConfig) -> dict[str, Any]:
    """What a judge config answers with (never a key): backend, model, endpoint, parameters."""
    return {
        "id": judge.pk,
        "name": judge.name,
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "params": dict(judge.params),
    }


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
) -> JudgeDriftReport:
    """A judge drift report: ``old_version`` judged by both judges (and, with ``new_version``,
    the 2 x 2 of both versions x both judges). Reuses finished runs, starts the missing ones.

    A manual report needs ``run.start`` of ``actor``; the guard's check is allowed by the guard
    edit that causes it. With
    ``execute`` the runs are judged in this process and the report is built before returning;
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
        reused = judging_selectors.reusable_run(
            version=version, judge=judge, reference_set=reference_set, active_ok=not execute
        )
        if reused is not None:
            return reused
        run = judging_services.run_start(
            actor=actor,
            rubric_version=version,
            judge=judge,
            reference_set=reference_set,
            purpose=JUDGE_DRIFT_RUN_PURPOSE,
            dispatch=not execute,
        )
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


WAITING = "waiting"
BUILT = "built"


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


def _compare(
    baseline: JudgingRun, candidate: JudgingRun, thresholds: DriftThresholds
) -> dict[str, Any]:
    """The drift statistics and flags of ``candidate`` against ``baseline`` (apps.drift.stats)."""
    records, unmatched = paired_records(baseline_run=baseline, candidate_run=candidate)
    if not records:
        raise ValueError(f"No pair was judged by both run {baseline.pk} and run {candidate.pk}.")
    result = compute_drift_report(
        PairedOutcomes.from_records(records),
        thresholds,
        n_bootstrap=N_BOOTSTRAP,
        seed=BOOTSTRAP_SEED,
    )
    result["pairs_compared"] = len(records)
    result["pairs_unmatched"] = unmatched
    result["baseline_run"], result["candidate_run"] = baseline.pk, candidate.pk
    return result


# The four comparisons of the 2 x 2, as (name, changed factor, baseline run, candidate run).
FACTORIAL_COMPARISONS = (
    ("judge_under_old_rubric", "judge", "run_old", "run_new_judge"),
    ("judge_under_new_rubric", "judge", "run_new_rubric", "run_both"),
    ("rubric_under_old_judge", "rubric", "run_old", "run_new_rubric"),
    ("rubric_under_new_judge", "rubric", "run_new_judge", "run_both"),
)


def judge_drift_build(*, report_id: int) -> JudgeDriftReport:
    """Compute a pending judge drift report from its finished runs and store it (audited)."""
    report = JudgeDriftReport.objects.select_related(
        "run_old", "run_new_judge", "run_new_rubric", "run_both"
    ).get(pk=report_id)
    if report.status != JobStatus.PENDING:
        return report
    thresholds = DriftThresholds(**report.thresholds)
    try:
        if report.kind == JudgeDriftKind.JUDGE:
            assert report.run_old is not None and report.run_new_judge is not None
            comparison = _compare(report.run_old, report.run_new_judge, thresholds)
            comparisons = {"judge": comparison}
            causes = {"judge": "judge"}
        else:
            comparisons = {}
            causes = {}
            for name, cause, before, after in FACTORIAL_COMPARISONS:
                comparisons[name] = _compare(
                    getattr(report, before), getattr(report, after), thresholds
                )
                causes[name] = cause
    except ValueError as exc:
        return _judge_drift_fail(report, str(exc))
    flags = [
        {**flag, "comparison": name, "cause": causes[name]}
        for name, comparison in comparisons.items()
        for flag in comparison.pop("flags")
    ]
    stats: dict[str, Any] = {"comparisons": comparisons}
    if report.kind == JudgeDriftKind.FACTORIAL:
        stats["effects"] = analysis_effects(comparisons)
    blame = _blame(flags)
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


def _blame(flags: list[dict[str, Any]]) -> str:
    causes = {flag["cause"] for flag in flags}
    if causes == {"judge", "rubric"}:
        return Blame.BOTH
    if causes == {"judge"}:
        return Blame.JUDGE
    if causes == {"rubric"}:
        return Blame.RUBRIC
    return Blame.NEITHER


def _delta(comparison: dict[str, Any], scope: str) -> float | None:
    part = comparison["overall"] if scope == "" else comparison["by_domain"].get(scope) or {}
    value = part.get("delta")
    return float(value) if value is not None else None


def analysis_effects(comparisons: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Main effects and interaction of the 2 x 2 per scope (``""`` is all pairs).

    Judge effect: the mean of the accuracy deltas of the new judge under each rubric; rubric
    effect likewise; interaction: how much the rubric's delta differs between the judges.
    """
    domains = {d for comparison in comparisons.values() for d in comparison["by_domain"]}
    scopes = ["", *sorted(domains)]
    effects: dict[str, dict[str, Any]] = {}
    for scope in scopes:
        jo = _delta(comparisons["judge_under_old_rubric"], scope)
        jn = _delta(comparisons["judge_under_new_rubric"], scope)
        ro = _delta(comparisons["rubric_under_old_judge"], scope)
        rn = _delta(comparisons["rubric_under_new_judge"], scope)
        judge = (jo + jn) / 2 if jo is not None and jn is not None else None
        rubric = (ro + rn) / 2 if ro is not None and rn is not None else None
        interaction = rn - ro if ro is not None and rn is not None else None
        effects[scope or "overall"] = {
            "judge": judge,
            "rubric": rubric,
            "interaction": interaction,
        }
    return effects


def _pts(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} pts"


def judge_drift_headline(kind: str, blame: str, stats: dict[str, Any]) -> str:
    """One sentence naming what moved the verdicts, with the overall accuracy effects."""
    if kind == JudgeDriftKind.JUDGE:
        delta = stats["comparisons"]["judge"]["overall"].get("delta")
        if blame == Blame.JUDGE:
            return f"The judge change moved the verdicts: overall accuracy {_pts(delta)}."
        return f"No drift flagged from the judge change (overall accuracy {_pts(delta)})."
    overall = stats["effects"]["overall"]
    effects = f"judge effect {_pts(overall['judge'])}, rubric effect {_pts(overall['rubric'])}"
    sentences = {
        Blame.JUDGE: "The judge moved the verdicts, not the rubric",
        Blame.RUBRIC: "The rubric moved the verdicts, not the judge",
        Blame.BOTH: "Both the rubric and the judge moved the verdicts",
        Blame.NEITHER: "Neither the rubric nor the judge moved the verdicts detectably",
    }
    return f"{sentences[Blame(blame)]}: {effects}."


# --- the guard watching its judge ---------------------------------------------------------------


def guard_version(rubric: Rubric) -> RubricVersion | None:
    """The version a guard's judge check judges: production if labelled, else the newest
    published one."""
    return label_version(rubric=rubric, label="production") or latest_published(rubric=rubric)


def guard_judge_change_check(
    *,
    actor: Any,
    rubric: Rubric,
    old_judge: JudgeConfig | None,
    new_judge: JudgeConfig | None,
    reference_set: ReferenceSet | None,
    execute: bool = False,
) -> JudgeDriftReport | None:
    """When a guard's judge changes, compare the old and the new judge on the guard's snapshot
    with the guard's version before the new judge is used (trigger ``guard``).

    Returns None when there is nothing to compare: no old or new judge, the same judge, no
    reference set, or no published version. ``actor`` is recorded, not checked: the guard's
    own edit is where the permission is checked.
    """
    if old_judge is None or new_judge is None or old_judge.pk == new_judge.pk:
        return None
    version = guard_version(rubric)
    if version is None or reference_set is None:
        return None
    return judge_drift_start(
        actor=actor,
        old_version=version,
        old_judge=old_judge,
        new_judge=new_judge,
        reference_set=reference_set,
        trigger=JudgeDriftTrigger.GUARD,
        execute=execute,
    )


def guard_judge_change_check_by_ids(
    *, rubric_id: int, old_judge_id: int, new_judge_id: int, reference_set_id: int
) -> JudgeDriftReport | None:
    """``guard_judge_change_check`` for the ``forensics.guard_judge_check`` task (ids in)."""
    rubric = Rubric.objects.filter(pk=rubric_id).first()
    old_judge = JudgeConfig.objects.filter(pk=old_judge_id).first()
    new_judge = JudgeConfig.objects.filter(pk=new_judge_id).first()
    reference_set = ReferenceSet.objects.filter(pk=reference_set_id).first()
    if rubric is None:
        return None
    return guard_judge_change_check(
        actor=None,
        rubric=rubric,
        old_judge=old_judge,
        new_judge=new_judge,
        reference_set=reference_set,
    )


def guard_judge_change_dispatch(
    *,
    rubric: Rubric,
    old_judge: JudgeConfig | None,
    new_judge: JudgeConfig | None,
    reference_set: ReferenceSet | None,
) -> bool:
    """For the guard's edit: once it commits, check the new judge against the old one (task
    ``forensics.guard_judge_check``). Returns whether a check was scheduled."""
    if old_judge is None or new_judge is None or reference_set is None:
        return False
    if old_judge.pk == new_judge.pk:
        return False
    from apps.forensics import tasks

    transaction.on_commit(
        partial(
            tasks.guard_judge_check.delay, rubric.pk, old_judge.pk, new_judge.pk, reference_set.pk
        )
    )
    return True
