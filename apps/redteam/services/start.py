"""Starting a red-team job: the request's checks, the split, the reserve for the selection and
the report, and the first step dispatched on commit."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import ReferenceSet
from apps.drift import selectors as drift_selectors
from apps.judging.backends.base import backend_class
from apps.judging.models import Backend, JudgeConfig
from apps.redteam.models import RedTeamJob
from apps.redteam.services.judge import worst_case_cost
from apps.redteam.services.pairs import PairRow, group_rows, job_pairs
from apps.redteam.services.state import step_dispatch
from apps.rubrics.models import RubricVersion
from apps.rubrics.spec import RubricSpec

RESERVE_COST_MARGIN = Decimal("1.5")
MAX_GENERATIONS = 50
MAX_POPULATION = 50
MAX_CHILDREN = 10
MAX_BENIGN = 20

Errors = dict[str, list[str]]


def _reserve(
    judge: JudgeConfig, spec: RubricSpec, splits: dict[str, list[PairRow]], population: int, k: int
) -> tuple[int, Decimal]:
    """Judge calls (and worst-case cost) the selection on val and the report on test need:
    seed, survivors and paraphrases on val; seed and the attack on test."""
    val, test = splits["val"], splits["test"]
    calls = 2 * len(val) * (population + 1 + k) + 2 * len(test) * 2
    cost = (
        worst_case_cost(judge, spec, val) * (population + 1 + k)
        + worst_case_cost(judge, spec, test) * 2
    )
    # The survivors are judged on val and the attack on test: rubrics that grew during the
    # search (a few added clauses) cost more per call than the seed, so the reserve has a margin.
    return calls, (cost * RESERVE_COST_MARGIN).quantize(Decimal("0.000001"))


def _check_positive(errors: Errors, name: str, value: int, top: int) -> None:
    if not 1 <= value <= top:
        errors[name] = [f"Between 1 and {top}."]


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _clean_targets(targets: Sequence[str]) -> list[str]:
    return sorted({str(t).strip() for t in targets if str(t).strip()})


def _ownership_errors(
    errors: Errors,
    *,
    rubric_version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet,
    benchmark_reference_set: ReferenceSet | None,
    editor: JudgeConfig | None,
) -> None:
    """The objects must be the judge's project's, the version published, the editor an
    OpenAI-compatible judge and the judge's backend known."""
    project = judge.project
    if rubric_version.rubric.project_id != project.pk:
        errors["rubric_version"] = ["The rubric version belongs to another project."]
    elif not rubric_version.is_published:
        errors["rubric_version"] = ["Only published versions can be red-teamed; publish it first."]
    if reference_set.project_id != project.pk:
        errors["reference_set"] = ["The reference set belongs to another project."]
    if benchmark_reference_set is not None and benchmark_reference_set.project_id != project.pk:
        errors["benchmark_reference_set"] = ["The reference set belongs to another project."]
    if editor is not None:
        if editor.project_id != project.pk:
            errors["editor"] = ["The editor belongs to another project."]
        elif editor.backend != Backend.OPENAI:
            errors["editor"] = [
                "An LLM editor must be an OpenAI-compatible judge config; use the "
                "deterministic editor otherwise."
            ]
    try:
        backend_class(judge.backend)
    except ValueError as exc:
        errors["judge"] = [str(exc)]


def _target_errors(errors: Errors, targets: list[str], reference_set: ReferenceSet) -> None:
    domains = set(reference_set.domain_counts or {})
    if not targets:
        errors["targets"] = ["Name at least one target domain."]
    elif unknown := [t for t in targets if t not in domains]:
        errors["targets"] = [
            f"Not a domain of {reference_set}: {', '.join(unknown)} "
            f"(domains: {', '.join(sorted(domains)) or 'none'})."
        ]


def _settings_errors(errors: Errors, job: RedTeamJob) -> None:
    """The search's sizes, tolerances, budget and seed must be in range."""
    _check_positive(errors, "generations", job.generations, MAX_GENERATIONS)
    _check_positive(errors, "population", job.population, MAX_POPULATION)
    _check_positive(errors, "children", job.children, MAX_CHILDREN)
    _check_positive(errors, "sample_size", job.sample_size, 100_000)
    if not 0 <= job.benign_k <= MAX_BENIGN:
        errors["benign_k"] = [f"Between 0 and {MAX_BENIGN}."]
    if not 0 <= job.tolerance <= 1:
        errors["tolerance"] = ["A proportion between 0 and 1 (0.05 = 5 points)."]
    if not 0 <= job.selection_tolerance <= 1:
        errors["selection_tolerance"] = ["A proportion between 0 and 1 (0.01 = 1 point)."]
    if job.max_judge_calls is not None and job.max_judge_calls < 1:
        errors["max_judge_calls"] = ["At least 1."]
    if job.cost_cap is not None and job.cost_cap <= 0:
        errors["cost_cap"] = ["A positive amount."]
    if job.cost_cap is not None and not (job.judge.price_in or job.judge.price_out):
        errors["cost_cap"] = [
            f"The judge {job.judge.name} has no prices; set them to cap the cost."
        ]
    if not 0 <= job.seed < 2**31:
        errors["seed"] = ["A whole number from 0 to 2147483647."]
    if job.max_judge_calls is not None and job.max_judge_calls >= 2**31:
        errors["max_judge_calls"] = ["At most 2147483647."]


def _split_errors(errors: Errors, splits: dict[str, list[PairRow]]) -> None:
    """Each split needs a target and a benchmark pair."""
    for name in ("train", "val", "test"):
        for group, label in (("target", "target"), ("bench", "benchmark")):
            if not group_rows(splits[name], group):
                errors.setdefault("reference_set", []).append(
                    f"The {name} split has no {label} pair; the reference set is too small or "
                    f"has no {label} domain."
                )


def _reserve_errors(
    errors: Errors, job: RedTeamJob, reserve_calls: int, reserve_cost: Decimal
) -> None:
    """The budget must leave room for the search after the selection and the report."""
    if job.max_judge_calls is not None and job.max_judge_calls <= reserve_calls:
        errors["max_judge_calls"] = [
            f"The selection on val and the report on test alone may need {reserve_calls} judge "
            f"calls; allow more than that."
        ]
    if job.cost_cap is not None and job.cost_cap <= reserve_cost:
        errors["cost_cap"] = [
            f"The selection on val and the report on test alone may cost {reserve_cost}; "
            "allow more than that."
        ]


def _record_start(*, actor: Any, job: RedTeamJob, dispatch: bool) -> None:
    """Save the job and its audit entry in one transaction; dispatch its first step on commit."""
    with transaction.atomic():
        job.created_by = actor_or_none(actor)
        job.heartbeat_at = timezone.now()
        job.save()
        audit_event_record(
            actor=actor,
            action="redteam.start",
            obj=job,
            after={
                "rubric_version": job.rubric_version.pk,
                "judge": job.judge.pk,
                "editor": job.editor.pk if job.editor else None,
                "poison_feedback": job.poison_feedback,
                "reference_set": job.reference_set.pk,
                "benchmark_reference_set": job.benchmark_reference_set.pk
                if job.benchmark_reference_set
                else None,
                "targets": job.targets,
                "generations": job.generations,
                "population": job.population,
                "children": job.children,
                "max_judge_calls": job.max_judge_calls,
                "cost_cap": str(job.cost_cap) if job.cost_cap is not None else None,
                "seed": job.seed,
                "split": job.split,
            },
        )
        if dispatch:
            transaction.on_commit(partial(step_dispatch, job_id=job.pk))


def redteam_start(
    *,
    actor: Any,
    rubric_version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet,
    targets: Sequence[str],
    editor: JudgeConfig | None = None,
    poison_feedback: bool = False,
    benchmark_reference_set: ReferenceSet | None = None,
    generations: int = 5,
    population: int = 10,
    children: int = 4,
    sample_size: int = 200,
    max_judge_calls: int | None = None,
    cost_cap: Decimal | None = None,
    tolerance: float = 0.05,
    selection_tolerance: float | None = None,
    benign_k: int = 4,
    seed: int = 0,
    dispatch: bool = True,
) -> RedTeamJob:
    """Create a red-team job on a published version and dispatch its first step on commit.

    Raises ``ValidationError`` naming the field: an unpublished version, objects of another
    project, unknown or missing target domains, an editor that is not an OpenAI-compatible
    judge, a budget out of range or too small for the selection and the report, a split with
    no target or benchmark pair for the search, selection or report.
    """
    errors: Errors = {}
    _ownership_errors(
        errors,
        rubric_version=rubric_version,
        judge=judge,
        reference_set=reference_set,
        benchmark_reference_set=benchmark_reference_set,
        editor=editor,
    )
    targets = _clean_targets(targets)
    _target_errors(errors, targets, reference_set)
    if selection_tolerance is None:
        selection_tolerance = drift_selectors.guard_for(rubric_version.rubric).tolerance
    job = RedTeamJob(
        project=judge.project,
        rubric_version=rubric_version,
        judge=judge,
        editor=editor,
        poison_feedback=poison_feedback,
        reference_set=reference_set,
        benchmark_reference_set=benchmark_reference_set,
        targets=targets,
        generations=generations,
        population=population,
        children=children,
        sample_size=sample_size,
        max_judge_calls=max_judge_calls,
        cost_cap=cost_cap,
        tolerance=tolerance,
        selection_tolerance=selection_tolerance,
        benign_k=benign_k,
        seed=seed,
    )
    _settings_errors(errors, job)
    _raise_if(errors)
    splits = job_pairs(job)
    _split_errors(errors, splits)
    _raise_if(errors)
    reserve_calls, reserve_cost = _reserve(
        judge, rubric_version.to_spec(), splits, population, benign_k
    )
    _reserve_errors(errors, job, reserve_calls, reserve_cost)
    _raise_if(errors)
    job.split = {
        **{name: len(rows) for name, rows in splits.items()},
        "reserve_calls": reserve_calls,
        "reserve_cost": str(reserve_cost),
    }
    _record_start(actor=actor, job=job, dispatch=dispatch)
    return job
