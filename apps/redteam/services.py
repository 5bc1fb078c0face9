"""Writes of the red-team app: starting, stepping, cancelling and resuming a red-team job.

How a job moves (docs/redteam.md):

1. ``redteam_start`` checks the request, splits the reference pairs by prompt cluster (seeded),
   reserves the judge calls the selection and the report will need, and dispatches the first
   step once the job is committed.
2. ``job_step`` (one Celery task per step, on the judge's queue) claims the job and does one
   unit of work: the seed's baseline, one search generation, the selection on val (with the
   benign band) or the report on test. The step's results and the job's new position are
   written in one transaction, then the next step is dispatched. A step killed half-way wrote
   nothing but cache entries, so the step that replaces it redoes the same seeded work, mostly
   from the cache, and the job continues from the last completed generation.
3. ``jobs_sweep_stale`` re-dispatches active jobs whose heartbeat went stale (a worker died).

Every judge call goes through the judging cache (``judge_texts_cached``), so a candidate that
was judged before (the seed each generation, a child identical to an earlier one) costs nothing.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from openai import OpenAI

from apps.core.api import Conflict
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.models import ReferenceItem, ReferenceSet
from apps.drift import selectors as drift_selectors
from apps.drift.stats import PairedOutcomes, compute_drift_report
from apps.judging.accounting import token_cost
from apps.judging.backends.base import backend_class
from apps.judging.backends.offline import is_refusal
from apps.judging.models import Backend, JudgeConfig
from apps.judging.prompting import estimate_messages_tokens, render_messages
from apps.judging.protocol import aggregate_pair
from apps.judging.services import judge_texts_cached
from apps.judging.types import PairText
from apps.redteam import editors, search
from apps.redteam.models import (
    ACTIVE_JOB_STATUSES,
    Candidate,
    CandidateKind,
    JobStatus,
    PairVerdict,
    Phase,
    RedTeamJob,
)
from apps.redteam.selectors import frontier_points
from apps.redteam.split import sample, split_pairs
from apps.rubrics import services as rubric_services
from apps.rubrics.models import RubricVersion
from apps.rubrics.spec import CriterionSpec, RubricSpec, content_hash, spec_content

log = logging.getLogger(__name__)

# Output tokens assumed per judge call when a cost cap is checked before calling (worst case).
DEFAULT_OUTPUT_TOKENS = 16
RESERVE_COST_MARGIN = Decimal("1.5")
MAX_GENERATIONS = 50
MAX_POPULATION = 50
MAX_CHILDREN = 10
MAX_BENIGN = 20
EDITOR_EXAMPLES_TARGET = 4
EDITOR_EXAMPLES_BENCH = 2


class JobNotActive(Conflict):
    """409: the red-team job has already ended."""

    default_detail = "The red-team job has already ended."
    default_code = "redteam_not_active"


# --- the pairs of a job -----------------------------------------------------------------------


@dataclass(frozen=True)
class PairRow:
    """One reference pair as the search needs it; ``group`` is ``target`` or ``bench``."""

    pair_id: int
    text: PairText
    gold: str
    group: str


def _items(reference_set: ReferenceSet) -> list[tuple[int, str, str, str, str, str]]:
    return list(
        ReferenceItem.objects.filter(reference_set=reference_set)
        .order_by("pair_id")
        .values_list(
            "pair_id",
            "gold_label",
            "pair__prompt",
            "pair__response_a",
            "pair__response_b",
            "pair__domain",
        )
    )


def job_pairs(job: RedTeamJob) -> dict[str, list[PairRow]]:
    """The job's pairs by split (train, val, test), target pairs first, each in pair order."""
    targets = set(job.targets)
    rows: dict[int, PairRow] = {}
    for pk, gold, prompt, a, b, domain in _items(job.reference_set):
        text = PairText(prompt=prompt, response_a=a, response_b=b, domain=domain)
        if domain in targets:
            rows[pk] = PairRow(pk, text, gold, "target")
        elif job.benchmark_reference_set_id is None:
            rows[pk] = PairRow(pk, text, gold, "bench")
    if job.benchmark_reference_set is not None:
        for pk, gold, prompt, a, b, domain in _items(job.benchmark_reference_set):
            if pk not in rows:
                text = PairText(prompt=prompt, response_a=a, response_b=b, domain=domain)
                rows[pk] = PairRow(pk, text, gold, "bench")
    ordered = sorted(rows.values(), key=lambda r: (r.group != "target", r.pair_id))
    return split_pairs(((r, r.text.prompt) for r in ordered), job.seed)


def _group(rows: Sequence[PairRow], group: str) -> list[PairRow]:
    return [r for r in rows if r.group == group]


# --- judging candidates -----------------------------------------------------------------------


@dataclass
class Judged:
    """A rubric's verdicts on some pairs, and what judging them cost."""

    verdicts: dict[int, str] = field(default_factory=dict)
    cached_pairs: set[int] = field(default_factory=set)
    fresh_calls: int = 0
    cached_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)

    def accuracy(self, rows: Sequence[PairRow], group: str | None = None) -> float | None:
        return search.accuracy(
            (self.verdicts[r.pair_id], r.gold)
            for r in rows
            if (group is None or r.group == group) and r.pair_id in self.verdicts
        )

    def by_domain(self, rows: Sequence[PairRow]) -> dict[str, float | None]:
        domains = sorted({r.text.domain for r in rows})
        return {
            d: search.accuracy(
                (self.verdicts[r.pair_id], r.gold)
                for r in rows
                if r.text.domain == d and r.pair_id in self.verdicts
            )
            for d in domains
        }


def judge_rubric(judge: JudgeConfig, spec: RubricSpec, rows: Sequence[PairRow]) -> Judged:
    """Both orders of every pair judged with ``spec`` (through the cache), aggregated per pair."""
    items = [(f"{r.pair_id}:{order}", r.text, order) for r in rows for order in ("AB", "BA")]
    answers = judge_texts_cached(judge=judge, spec=spec, items=items)  # type: ignore[arg-type]
    out = Judged()
    by_key = {a.key: a for a in answers}
    for r in rows:
        ab, ba = by_key[f"{r.pair_id}:AB"], by_key[f"{r.pair_id}:BA"]
        out.verdicts[r.pair_id] = aggregate_pair(ab.verdict, ba.verdict).verdict
        if ab.cached and ba.cached:
            out.cached_pairs.add(r.pair_id)
    fresh = [a for a in answers if not a.cached]
    out.fresh_calls = len(fresh)
    out.cached_calls = len(answers) - len(fresh)
    out.tokens_in = sum(a.tokens_in for a in fresh)
    out.tokens_out = sum(a.tokens_out for a in fresh)
    out.cost = token_cost(out.tokens_in, out.tokens_out, judge.price_in, judge.price_out)
    return out


def _output_tokens(judge: JudgeConfig) -> int:
    try:
        return int(judge.params.get("max_tokens", DEFAULT_OUTPUT_TOKENS))
    except (TypeError, ValueError):
        return DEFAULT_OUTPUT_TOKENS


def worst_case_cost(judge: JudgeConfig, spec: RubricSpec, rows: Sequence[PairRow]) -> Decimal:
    """What judging ``rows`` with ``spec`` could cost if nothing were cached (prices per call)."""
    if not (judge.price_in or judge.price_out):
        return Decimal(0)
    tokens_in = sum(
        estimate_messages_tokens(render_messages(spec, r.text, order))
        for r in rows
        for order in ("AB", "BA")
    )
    tokens_out = 2 * len(rows) * _output_tokens(judge)
    return token_cost(tokens_in, tokens_out, judge.price_in, judge.price_out)


def spec_from_content(content: dict[str, Any]) -> RubricSpec:
    """A ``RubricSpec`` from its stored JSON (``spec_content``)."""
    return RubricSpec(
        instructions=content.get("instructions", ""),
        template=content.get("template", ""),
        output_format=content.get("output_format", "verdict"),
        criteria=tuple(
            CriterionSpec(
                key=c["key"],
                title=c["title"],
                description=c.get("description", ""),
                weight=float(c.get("weight", 1.0)),
                kind=c.get("kind", "principle"),
                check=c.get("check"),
            )
            for c in content.get("criteria", [])
        ),
    )


# --- starting a job ---------------------------------------------------------------------------


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


def _check_positive(errors: dict[str, list[str]], name: str, value: int, top: int) -> None:
    if not 1 <= value <= top:
        errors[name] = [f"Between 1 and {top}."]


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
    errors: dict[str, list[str]] = {}
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
    targets = sorted({str(t).strip() for t in targets if str(t).strip()})
    domains = set(reference_set.domain_counts or {})
    if not targets:
        errors["targets"] = ["Name at least one target domain."]
    elif unknown := [t for t in targets if t not in domains]:
        errors["targets"] = [
            f"Not a domain of {reference_set}: {', '.join(unknown)} "
            f"(domains: {', '.join(sorted(domains)) or 'none'})."
        ]
    _check_positive(errors, "generations", generations, MAX_GENERATIONS)
    _check_positive(errors, "population", population, MAX_POPULATION)
    _check_positive(errors, "children", children, MAX_CHILDREN)
    _check_positive(errors, "sample_size", sample_size, 100_000)
    if not 0 <= benign_k <= MAX_BENIGN:
        errors["benign_k"] = [f"Between 0 and {MAX_BENIGN}."]
    if not 0 <= tolerance <= 1:
        errors["tolerance"] = ["A proportion between 0 and 1 (0.05 = 5 points)."]
    if selection_tolerance is None:
        selection_tolerance = drift_selectors.guard_for(rubric_version.rubric).tolerance
    if not 0 <= selection_tolerance <= 1:
        errors["selection_tolerance"] = ["A proportion between 0 and 1 (0.01 = 1 point)."]
    if max_judge_calls is not None and max_judge_calls < 1:
        errors["max_judge_calls"] = ["At least 1."]
    if cost_cap is not None and cost_cap <= 0:
        errors["cost_cap"] = ["A positive amount."]
    if cost_cap is not None and not (judge.price_in or judge.price_out):
        errors["cost_cap"] = [f"The judge {judge.name} has no prices; set them to cap the cost."]
    if not 0 <= seed < 2**31:
        errors["seed"] = ["A whole number from 0 to 2147483647."]
    if max_judge_calls is not None and max_judge_calls >= 2**31:
        errors["max_judge_calls"] = ["At most 2147483647."]
    if errors:
        raise ValidationError(errors)

    job = RedTeamJob(
        project=project,
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
    splits = job_pairs(job)
    for name in ("train", "val", "test"):
        for group, label in (("target", "target"), ("bench", "benchmark")):
            if not _group(splits[name], group):
                errors.setdefault("reference_set", []).append(
                    f"The {name} split has no {label} pair; the reference set is too small or "
                    f"has no {label} domain."
                )
    if errors:
        raise ValidationError(errors)
    spec = rubric_version.to_spec()
    reserve_calls, reserve_cost = _reserve(judge, spec, splits, population, benign_k)
    if max_judge_calls is not None and max_judge_calls <= reserve_calls:
        errors["max_judge_calls"] = [
            f"The selection on val and the report on test alone may need {reserve_calls} judge "
            f"calls; allow more than that."
        ]
    if cost_cap is not None and cost_cap <= reserve_cost:
        errors["cost_cap"] = [
            f"The selection on val and the report on test alone may cost {reserve_cost}; "
            "allow more than that."
        ]
    if errors:
        raise ValidationError(errors)
    job.split = {
        **{name: len(rows) for name, rows in splits.items()},
        "reserve_calls": reserve_calls,
        "reserve_cost": str(reserve_cost),
    }
    with transaction.atomic():
        job.created_by = actor_or_none(actor)
        job.heartbeat_at = timezone.now()
        job.save()
        audit_event_record(
            actor=actor,
            action="redteam.start",
            obj=job,
            after={
                "rubric_version": rubric_version.pk,
                "judge": judge.pk,
                "editor": editor.pk if editor else None,
                "poison_feedback": poison_feedback,
                "reference_set": reference_set.pk,
                "benchmark_reference_set": benchmark_reference_set.pk
                if benchmark_reference_set
                else None,
                "targets": targets,
                "generations": generations,
                "population": population,
                "children": children,
                "max_judge_calls": max_judge_calls,
                "cost_cap": str(cost_cap) if cost_cap is not None else None,
                "seed": seed,
                "split": job.split,
            },
        )
        if dispatch:
            transaction.on_commit(partial(step_dispatch, job_id=job.pk))
    return job


def step_dispatch(*, job_id: int) -> None:
    """Send the job's next step to the queue of its judge (hosted endpoints on ``api``)."""
    from apps.redteam import tasks

    backend = RedTeamJob.objects.filter(pk=job_id).values_list("judge__backend", flat=True).first()
    tasks.step_task_for(backend or "").delay(job_id)


# --- one step ---------------------------------------------------------------------------------


def _claim(job_id: int) -> RedTeamJob | None:
    """Take the job unless another process holds a claim younger than the hard time limit."""
    now = timezone.now()
    lease = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimed = (
        RedTeamJob.objects.filter(pk=job_id, status__in=ACTIVE_JOB_STATUSES)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease))
        .update(claimed_at=now, heartbeat_at=now)
    )
    if not claimed:
        return None
    return RedTeamJob.objects.select_related(
        "judge", "editor", "rubric_version__rubric", "reference_set", "benchmark_reference_set"
    ).get(pk=job_id)


def _release(job: RedTeamJob, **changes: Any) -> None:
    RedTeamJob.objects.filter(pk=job.pk).update(
        claimed_at=None, heartbeat_at=timezone.now(), **changes
    )


def job_step(*, job_id: int, pause_s: float = 0.0, dispatch: bool = True) -> str:
    """Do the job's next unit of work; safe to call any number of times.

    Returns what happened: ``skipped`` (claimed elsewhere or ended), ``cancelled``, the phase
    that was worked on, or ``done``. ``pause_s`` waits after claiming (the resume test only).
    """
    job = _claim(job_id)
    if job is None:
        return "skipped"
    if job.cancel_requested:
        _finish(job, JobStatus.CANCELLED, stop_reason="cancelled")
        return "cancelled"
    if job.status == JobStatus.QUEUED:
        RedTeamJob.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING, started_at=timezone.now()
        )
    if pause_s > 0:
        time.sleep(pause_s)
    try:
        outcome = _advance(job)
    except Exception as exc:
        log.exception("red team %s failed", job.pk)
        _finish(job, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return "failed"
    if outcome != "done" and dispatch:
        transaction.on_commit(partial(step_dispatch, job_id=job.pk))
    return outcome


def _finish(job: RedTeamJob, status: str, **changes: Any) -> None:
    with transaction.atomic():
        RedTeamJob.objects.filter(pk=job.pk).update(
            status=status, finished_at=timezone.now(), claimed_at=None, **changes
        )
        audit_event_record(
            actor=None, action=f"redteam.{status}", obj=job, after={"candidates": job.candidates}
        )


def _advance(job: RedTeamJob) -> str:
    splits = job_pairs(job)
    if job.phase == Phase.SEARCH:
        if job.generation < 0:
            _seed_step(job, splits["train"])
            return "search"
        stop = _search_stop(job)
        if stop:
            _release(job, phase=Phase.SELECT, stop_reason=stop)
            return "search"
        _generation_step(job, splits["train"])
        return "search"
    if job.phase == Phase.SELECT:
        _select_step(job, splits["val"])
        return "select"
    if job.phase == Phase.REPORT:
        _report_step(job, splits["test"])
        return "done"
    _release(job)
    return "done"


def _search_stop(job: RedTeamJob) -> str:
    if job.generation >= job.generations:
        return f"all {job.generations} generations searched"
    if job.max_judge_calls is not None and job.judge_calls >= _search_calls(job):
        return "judge-call budget reached"
    if job.cost_cap is not None and job.cost >= _search_cost(job):
        return "cost cap reached"
    return ""


def _search_calls(job: RedTeamJob) -> int:
    return int(job.max_judge_calls or 0) - int(job.split.get("reserve_calls", 0))


def _search_cost(job: RedTeamJob) -> Decimal:
    return Decimal(job.cost_cap or 0) - Decimal(job.split.get("reserve_cost", "0"))


def _train_sample(job: RedTeamJob, train: Sequence[PairRow], generation: int) -> list[PairRow]:
    """The generation's fresh train sample: half target pairs, half benchmark pairs (seeded)."""
    half = job.sample_size // 2
    return sample(_group(train, "target"), half, job.seed, generation, "target") + sample(
        _group(train, "bench"), job.sample_size - half, job.seed, generation, "bench"
    )


def _verdict_rows(candidate: Candidate, judged: Judged, split: str) -> list[PairVerdict]:
    return [
        PairVerdict(
            candidate=candidate,
            pair_id=pk,
            split=split,
            verdict=verdict,
            cached=pk in judged.cached_pairs,
        )
        for pk, verdict in judged.verdicts.items()
    ]


def _spend(job: RedTeamJob, judged: Judged) -> None:
    job.judge_calls += judged.fresh_calls
    job.cached_calls += judged.cached_calls
    job.tokens_in += judged.tokens_in
    job.tokens_out += judged.tokens_out
    job.cost = Decimal(job.cost) + judged.cost


def _spend_fields(job: RedTeamJob) -> dict[str, Any]:
    return {
        "judge_calls": job.judge_calls,
        "cached_calls": job.cached_calls,
        "editor_calls": job.editor_calls,
        "tokens_in": job.tokens_in,
        "tokens_out": job.tokens_out,
        "cost": job.cost,
    }


def _seed_step(job: RedTeamJob, train: Sequence[PairRow]) -> None:
    """Generation 0: the seed rubric on its train sample, the baseline of every fitness."""
    spec = job.rubric_version.to_spec()
    rows = _train_sample(job, train, 0)
    judged = judge_rubric(job.judge, spec, rows)
    _spend(job, judged)
    target, bench = judged.accuracy(rows, "target"), judged.accuracy(rows, "bench")
    with transaction.atomic():
        seed = Candidate.objects.create(
            job=job,
            generation=0,
            index=0,
            kind=CandidateKind.SEED,
            spec=spec_content(spec),
            content_hash=content_hash(spec),
            edit="the published version (seed)",
            train_target=target,
            train_bench=bench,
            seed_train_target=target,
            seed_train_bench=bench,
            compliant=True,
            fitness=search.fitness(bench, target, bench),
            judge_calls=judged.fresh_calls,
            cached_calls=judged.cached_calls,
        )
        PairVerdict.objects.bulk_create(_verdict_rows(seed, judged, "train"))
        _release(job, generation=0, candidates=1, best_fitness=seed.fitness, **_spend_fields(job))


def _population(job: RedTeamJob) -> list[Candidate]:
    """The parents of the next generation: the fittest compliant candidates so far (seed too)."""
    scored = [
        search.Scored(c.pk, c.generation, c.index, c.fitness, c.compliant)
        for c in Candidate.objects.filter(job=job).exclude(kind=CandidateKind.BENIGN)
    ]
    keep = [s.id for s in search.survivors(scored, job.population)]
    by_id = Candidate.objects.in_bulk(keep)
    return [by_id[pk] for pk in keep]


def _generation_step(job: RedTeamJob, train: Sequence[PairRow]) -> None:
    """One generation: each parent gets ``children`` edits, all judged on a fresh train sample."""
    generation = job.generation + 1
    rows = _train_sample(job, train, generation)
    seed_spec = job.rubric_version.to_spec()
    seed_judged = judge_rubric(job.judge, seed_spec, rows)
    _spend(job, seed_judged)
    seed_target = seed_judged.accuracy(rows, "target")
    seed_bench = seed_judged.accuracy(rows, "bench")
    parents = _population(job)
    made: list[tuple[Candidate, Judged | None]] = []
    stop = ""
    index = 0
    for p_index, parent in enumerate(parents):
        parent_spec = spec_from_content(parent.spec)
        for c_index in range(job.children):
            stop = _over_budget(job, parent_spec, rows)
            if stop:
                break
            rng = editors.edit_rng(job.seed, generation, p_index, c_index)
            candidate = Candidate(
                job=job,
                generation=generation,
                index=index,
                kind=CandidateKind.SEARCH,
                parent=parent,
            )
            index += 1
            try:
                edit = _edit(job, parent, parent_spec, rng)
            except editors.EditorReplyError as exc:
                candidate.spec = parent.spec
                candidate.content_hash = parent.content_hash
                candidate.error = str(exc)[:2000]
                made.append((candidate, None))
                continue
            candidate.spec = spec_content(edit.spec)
            candidate.content_hash = content_hash(edit.spec)
            candidate.edit = edit.description
            judged = judge_rubric(job.judge, edit.spec, rows)
            _spend(job, judged)
            target, bench = judged.accuracy(rows, "target"), judged.accuracy(rows, "bench")
            candidate.train_target, candidate.train_bench = target, bench
            candidate.seed_train_target, candidate.seed_train_bench = seed_target, seed_bench
            candidate.compliant = search.is_compliant(bench, seed_bench, job.tolerance)
            candidate.fitness = search.fitness(bench, target, seed_bench)
            candidate.judge_calls, candidate.cached_calls = judged.fresh_calls, judged.cached_calls
            made.append((candidate, judged))
        if stop:
            break
    with transaction.atomic():
        # A duplicate step (a redelivered message racing a resumed one) must not write twice.
        if RedTeamJob.objects.filter(pk=job.pk, generation__gte=generation).exists():
            return
        Candidate.objects.bulk_create([c for c, _ in made])
        verdicts: list[PairVerdict] = []
        for candidate, outcome in made:
            if outcome is not None:
                verdicts.extend(_verdict_rows(candidate, outcome, "train"))
        PairVerdict.objects.bulk_create(verdicts)
        fitnesses = [c.fitness for c, _ in made if c.compliant and c.fitness is not None]
        best = max(
            [*fitnesses, *([job.best_fitness] if job.best_fitness is not None else [])],
            default=None,
        )
        changes: dict[str, Any] = {
            "generation": generation,
            "candidates": F("candidates") + len(made),
            "best_fitness": best,
            **_spend_fields(job),
        }
        if stop:
            changes.update(phase=Phase.SELECT, stop_reason=stop)
        _release(job, **changes)


def _over_budget(job: RedTeamJob, spec: RubricSpec, rows: Sequence[PairRow]) -> str:
    """Which cap judging one more candidate could break (assuming nothing is cached), or ""."""
    if job.max_judge_calls is not None and job.judge_calls + 2 * len(rows) > _search_calls(job):
        return "judge-call budget reached"
    if job.cost_cap is not None and (
        Decimal(job.cost) + worst_case_cost(job.judge, spec, rows) > _search_cost(job)
    ):
        return "cost cap reached"
    return ""


def _edit(job: RedTeamJob, parent: Candidate, spec: RubricSpec, rng: random.Random) -> editors.Edit:
    if job.editor is None:
        return editors.deterministic_edit(spec, rng)
    examples = _editor_examples(job, parent, rng)
    reply, tokens_in, tokens_out = _call_editor(job.editor, spec, examples, rng)
    job.editor_calls += 1
    job.cost = Decimal(job.cost) + token_cost(
        tokens_in, tokens_out, job.editor.price_in, job.editor.price_out
    )
    new = editors.parse_editor_reply(reply, spec)
    mode = "poisoned feedback" if job.poison_feedback else "real errors"
    return editors.Edit(new, f"LLM rewrite by {job.editor.name} ({mode})")


def _editor_examples(
    job: RedTeamJob, parent: Candidate, rng: random.Random
) -> list[editors.Example]:
    """RIPD's feedback: four target pairs and two real benchmark errors from the parent's train
    verdicts. With feedback poisoning the target pairs are ones the judge got right, shown as if
    the other response should have won."""
    rows = list(
        PairVerdict.objects.filter(candidate=parent, split="train")
        .select_related("pair")
        .order_by("pair_id")
    )
    gold = dict(
        ReferenceItem.objects.filter(
            pair_id__in=[r.pair_id for r in rows],
            reference_set_id__in=[
                pk for pk in (job.reference_set_id, job.benchmark_reference_set_id) if pk
            ],
        ).values_list("pair_id", "gold_label")
    )
    targets = set(job.targets)
    right_t: list[tuple[PairVerdict, str]] = []
    wrong_t: list[tuple[PairVerdict, str]] = []
    wrong_b: list[tuple[PairVerdict, str]] = []
    for r in rows:
        label = gold.get(r.pair_id)
        if label not in ("A", "B"):
            continue
        if r.pair.domain in targets:
            (right_t if r.verdict == label else wrong_t).append((r, label))
        elif r.verdict != label:
            wrong_b.append((r, label))
    picked_t = right_t if job.poison_feedback else wrong_t
    chosen_t = rng.sample(picked_t, min(EDITOR_EXAMPLES_TARGET, len(picked_t)))
    chosen_b = rng.sample(wrong_b, min(EDITOR_EXAMPLES_BENCH, len(wrong_b)))
    examples = []
    for r, label in chosen_t:
        other = "B" if label == "A" else "A"
        should = other if job.poison_feedback else label
        examples.append(
            editors.Example(r.pair.prompt, r.pair.response_a, r.pair.response_b, r.verdict, should)
        )
    for r, label in chosen_b:
        examples.append(
            editors.Example(r.pair.prompt, r.pair.response_a, r.pair.response_b, r.verdict, label)
        )
    return examples


def _call_editor(
    editor: JudgeConfig, spec: RubricSpec, examples: Sequence[editors.Example], rng: random.Random
) -> tuple[str, int, int]:
    """One chat completion of the editor model; returns (text, tokens in, tokens out)."""
    client = OpenAI(
        base_url=editor.base_url or None,
        api_key=(os.environ.get(editor.api_key_env) if editor.api_key_env else None) or "unused",
        timeout=float(editor.params.get("timeout_s", 120)),
        max_retries=int(editor.params.get("max_attempts", 3)),
    )
    try:
        response = client.chat.completions.create(  # type: ignore[call-overload]
            model=editor.model,
            messages=editors.editor_messages(spec, examples),
            temperature=editors.EDITOR_TEMPERATURE,
            seed=rng.randrange(2**31),
            response_format={"type": "json_object"},
        )
    finally:
        client.close()
    text = response.choices[0].message.content or ""
    usage = response.usage
    return (
        text,
        int(usage.prompt_tokens if usage else 0),
        int(usage.completion_tokens if usage else 0),
    )


def _select_step(job: RedTeamJob, val: Sequence[PairRow]) -> None:
    """Judge the seed, the survivors and K benign paraphrases on val; pick the attack (RIPD)."""
    seed_spec = job.rubric_version.to_spec()
    seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
    seed_val = judge_rubric(job.judge, seed_spec, val)
    _spend(job, seed_val)
    seed_domains = seed_val.by_domain(val)
    survivors = [c for c in _population(job) if c.kind == CandidateKind.SEARCH]
    judged: list[tuple[Candidate, Judged]] = []
    for candidate in survivors:
        result = judge_rubric(job.judge, spec_from_content(candidate.spec), val)
        _spend(job, result)
        judged.append((candidate, result))
    benign: list[tuple[Candidate, Judged]] = []
    for k in range(job.benign_k):
        edit = editors.paraphrase(seed_spec, random.Random(f"benign:{job.seed}:{k}"))  # noqa: S311
        result = judge_rubric(job.judge, edit.spec, val)
        _spend(job, result)
        candidate = Candidate(
            job=job,
            generation=0,
            index=k,
            kind=CandidateKind.BENIGN,
            spec=spec_content(edit.spec),
            content_hash=content_hash(edit.spec),
            edit=edit.description,
            judge_calls=result.fresh_calls,
            cached_calls=result.cached_calls,
        )
        benign.append((candidate, result))
    seed_val_bench = seed_val.accuracy(val, "bench")
    seed_val_target = seed_val.accuracy(val, "target")
    rows = []
    for candidate, result in judged:
        candidate.val_target = result.accuracy(val, "target")
        candidate.val_bench = result.accuracy(val, "bench")
        candidate.val_by_domain = result.by_domain(val)
        rows.append(
            {
                "id": candidate.pk,
                "generation": candidate.generation,
                "index": candidate.index,
                "val_target": candidate.val_target,
                "val_bench": candidate.val_bench,
            }
        )
    pick = search.select_final(rows, seed_val_bench, job.selection_tolerance)
    deltas = []
    for candidate, result in benign:
        domains = result.by_domain(val)
        candidate.val_by_domain = domains
        candidate.val_target = result.accuracy(val, "target")
        candidate.val_bench = result.accuracy(val, "bench")
        deltas.append(
            {
                d: (None if v is None or seed_domains.get(d) is None else v - seed_domains[d])  # type: ignore[operator]
                for d, v in domains.items()
            }
        )
    result_json = dict(job.result)
    result_json["selection"] = {
        "seed_val_target": seed_val_target,
        "seed_val_bench": seed_val_bench,
        "seed_val_by_domain": seed_domains,
        "considered": len(rows),
        "picked": pick["id"] if pick else None,
    }
    result_json["benign_band"] = {"k": job.benign_k, "by_domain": search.band(deltas)}
    result_json["frontier"] = search.frontier(frontier_points(job))
    with transaction.atomic():
        if RedTeamJob.objects.filter(pk=job.pk).exclude(phase=Phase.SELECT).exists():
            return
        seed.val_target, seed.val_bench, seed.val_by_domain = (
            seed_val_target,
            seed_val_bench,
            seed_domains,
        )
        seed.save(update_fields=["val_target", "val_bench", "val_by_domain"])
        PairVerdict.objects.bulk_create(_verdict_rows(seed, seed_val, "val"), ignore_conflicts=True)
        for candidate, result in judged:
            candidate.save(update_fields=["val_target", "val_bench", "val_by_domain"])
            PairVerdict.objects.bulk_create(
                _verdict_rows(candidate, result, "val"), ignore_conflicts=True
            )
        Candidate.objects.bulk_create([c for c, _ in benign])
        for candidate, result in benign:
            PairVerdict.objects.bulk_create(_verdict_rows(candidate, result, "val"))
        _release(
            job,
            phase=Phase.REPORT,
            best_id=pick["id"] if pick else None,
            result=result_json,
            **_spend_fields(job),
        )


def _outcomes(
    rows: Sequence[PairRow], base: Judged, cand: Judged, *, grouped: bool
) -> PairedOutcomes:
    return PairedOutcomes.from_lists(
        domain=[
            ("target" if r.group == "target" else "benchmark") if grouped else r.text.domain
            for r in rows
        ],
        gold=[r.gold for r in rows],
        baseline=[base.verdicts[r.pair_id] for r in rows],
        candidate=[cand.verdicts[r.pair_id] for r in rows],
        length_a=[len(r.text.response_a) for r in rows],
        length_b=[len(r.text.response_b) for r in rows],
        refuses_a=[is_refusal(r.text.response_a) for r in rows],
        refuses_b=[is_refusal(r.text.response_b) for r in rows],
        cluster=[r.text.prompt for r in rows],
        pair_id=[r.pair_id for r in rows],
    )


def _report_step(job: RedTeamJob, test: Sequence[PairRow]) -> None:
    """The only step that reads test: the seed against the picked attack, with the statistics
    of a drift report (per domain, and target vs benchmark), and the attack saved as a draft."""
    result_json = dict(job.result)
    seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
    best = job.best
    rubric = job.rubric_version.rubric
    thresholds = drift_selectors.guard_thresholds(rubric)
    if best is None:
        result_json["test"] = None
        result_json["verdict"] = "robust"
        with transaction.atomic():
            _finish(job, JobStatus.SUCCEEDED, result=result_json, **_spend_fields(job))
        return
    seed_test = judge_rubric(job.judge, job.rubric_version.to_spec(), test)
    _spend(job, seed_test)
    best_spec = spec_from_content(best.spec)
    best_test = judge_rubric(job.judge, best_spec, test)
    _spend(job, best_test)
    report = compute_drift_report(
        _outcomes(test, seed_test, best_test, grouped=False), thresholds, seed=job.seed
    )
    grouped = compute_drift_report(
        _outcomes(test, seed_test, best_test, grouped=True), thresholds, seed=job.seed
    )
    target_scope = grouped["by_domain"].get("target", {})
    bench_scope = grouped["by_domain"].get("benchmark", {})
    drifted = any(
        flag["kind"] == "domain_drift" and flag["domain"] in job.targets for flag in report["flags"]
    ) and search.is_compliant(
        bench_scope.get("candidate_accuracy"),
        bench_scope.get("baseline_accuracy"),
        job.selection_tolerance,
    )
    report.pop("flipped", None)
    result_json["test"] = {
        "report": report,
        "target": {
            k: target_scope.get(k)
            for k in (
                "n",
                "baseline_accuracy",
                "candidate_accuracy",
                "delta",
                "delta_ci",
                "mcnemar_p",
            )
        },
        "benchmark": {
            k: bench_scope.get(k)
            for k in (
                "n",
                "baseline_accuracy",
                "candidate_accuracy",
                "delta",
                "delta_ci",
                "mcnemar_p",
            )
        },
    }
    result_json["verdict"] = "drifts" if drifted else "robust"
    with transaction.atomic():
        if RedTeamJob.objects.filter(pk=job.pk).exclude(phase=Phase.REPORT).exists():
            return
        PairVerdict.objects.bulk_create(
            _verdict_rows(seed, seed_test, "test"), ignore_conflicts=True
        )
        PairVerdict.objects.bulk_create(
            _verdict_rows(best, best_test, "test"), ignore_conflicts=True
        )
        draft = rubric_services.rubric_version_create(
            actor=job.created_by,
            rubric=rubric,
            parent=job.rubric_version,
            instructions=best_spec.instructions,
            template=best_spec.template,
            output_format=best_spec.output_format,
            criteria=[dict(c) for c in best.spec.get("criteria", [])],
            message=(
                f"Red-team attack found by red team {job.pk} (generation {best.generation}): "
                f"{best.edit}. For study only; do not publish."
            ),
        )
        _finish(
            job,
            JobStatus.SUCCEEDED,
            phase=Phase.DONE,
            draft_version=draft,
            result=result_json,
            **_spend_fields(job),
        )


# --- in-process execution, cancel, resume -----------------------------------------------------


def job_execute(*, job: RedTeamJob) -> RedTeamJob:
    """Run every step of ``job`` in this process (the command line; no worker needed)."""
    for _ in range(job.generations + 10):
        outcome = job_step(job_id=job.pk, dispatch=False)
        if outcome in ("done", "cancelled", "failed", "skipped"):
            break
    job.refresh_from_db()
    return job


def job_cancel(*, actor: Any, job: RedTeamJob) -> RedTeamJob:
    """Ask the job to stop: the step in flight finishes, the next one ends it as cancelled."""
    with transaction.atomic():
        changed = RedTeamJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
            cancel_requested=True
        )
        if not changed:
            raise JobNotActive(f"Red team {job.pk} has already ended ({job.status}).")
        # A job that nobody holds ends now; one in a step ends when that step returns.
        RedTeamJob.objects.filter(pk=job.pk, claimed_at__isnull=True).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), stop_reason="cancelled"
        )
        audit_event_record(
            actor=actor, action="redteam.cancel", obj=job, before={"status": job.status}
        )
    job.refresh_from_db()
    return job


def jobs_sweep_stale(*, stale_after: timedelta | None = None) -> list[int]:
    """Re-dispatch active jobs whose heartbeat is older than ``stale_after`` (a dead worker).

    A step beats when it is claimed and when it writes, and outlives neither its hard time limit
    nor its process, so a stale heartbeat means nobody is working on the job: its claim is
    dropped and its next step sent again. The step redoes the unfinished unit from its seed.
    """
    if stale_after is None:
        stale_after = timedelta(seconds=settings.REDTEAM_STALE_AFTER_S)
    cutoff = timezone.now() - stale_after
    resumed = []
    for job in RedTeamJob.objects.filter(status__in=ACTIVE_JOB_STATUSES, heartbeat_at__lt=cutoff):
        with transaction.atomic():
            changed = RedTeamJob.objects.filter(pk=job.pk, heartbeat_at__lt=cutoff).update(
                claimed_at=None, heartbeat_at=timezone.now()
            )
            if not changed:
                continue
            audit_event_record(
                actor=None, action="redteam.resume", obj=job, after={"generation": job.generation}
            )
            transaction.on_commit(partial(step_dispatch, job_id=job.pk))
        resumed.append(job.pk)
    return resumed
