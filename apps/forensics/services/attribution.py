"""Clause attribution: which hunks of a rubric edit caused a drift report's flips.

``attribution_start`` then, on a worker, ``attribution_execute``:

1. The report's rubric diff is split into hunks (``hunks.split_hunks``).
2. The pairs are the report's flipped pairs plus a seeded sample of its unflipped pairs.
3. Variants: the full baseline and candidate (normally all cache hits: the report's runs
   answered them), and per hunk the candidate with it reverted and the baseline with it
   applied. They are judged through the judging cache (``probing``) within the job's budget.
4. ``analysis.attribute`` gives each hunk's share with its interval and paired test; when no
   hunk explains enough, pairs of hunks are reverted together with what is left of the budget.
"""

from __future__ import annotations

import logging
import random
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
from apps.datasets.models import Pair, ReferenceItem
from apps.drift.models import DriftReport, ReportStatus
from apps.forensics import analysis, probing
from apps.forensics.hunks import apply_hunks, split_hunks
from apps.forensics.models import Attribution, JobStatus

log = logging.getLogger(__name__)


def default_budget() -> int:
    """Judge calls an attribution may spend when none is asked for (setting)."""
    return int(settings.FORENSICS_ATTRIBUTION_BUDGET)


def default_control_size() -> int:
    """Unflipped pairs in an attribution's control sample when none is asked for (setting)."""
    return int(settings.FORENSICS_CONTROL_PAIRS)


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
