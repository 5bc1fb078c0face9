"""The search on train: the seed's baseline (generation 0), then one generation per step, each
parent's children judged on a fresh train sample, within the budget left after the reserve."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from apps.redteam import editors, search
from apps.redteam.models import Candidate, CandidateKind, PairVerdict, Phase, RedTeamJob
from apps.redteam.services.editing import candidate_edit
from apps.redteam.services.judge import Judged, judge_rubric, worst_case_cost
from apps.redteam.services.pairs import PairRow, group_rows
from apps.redteam.services.state import release, spend, spend_write, verdict_rows
from apps.redteam.split import sample
from apps.rubrics.spec import RubricSpec, content_hash, spec_content, spec_from_content

Made = list[tuple[Candidate, Judged | None]]


def _search_calls(job: RedTeamJob) -> int:
    return int(job.max_judge_calls or 0) - int(job.split.get("reserve_calls", 0))


def _search_cost(job: RedTeamJob) -> Decimal:
    return Decimal(job.cost_cap or 0) - Decimal(job.split.get("reserve_cost", "0"))


def search_stop(job: RedTeamJob) -> str:
    """Why the search ends before the next generation (generations or budget spent), or ""."""
    if job.generation >= job.generations:
        return f"all {job.generations} generations searched"
    if job.max_judge_calls is not None and job.judge_calls >= _search_calls(job):
        return "judge-call budget reached"
    if job.cost_cap is not None and job.cost >= _search_cost(job):
        return "cost cap reached"
    return ""


def _over_budget(job: RedTeamJob, spec: RubricSpec, rows: Sequence[PairRow]) -> str:
    """Which cap judging one more candidate could break (assuming nothing is cached), or ""."""
    if job.max_judge_calls is not None and job.judge_calls + 2 * len(rows) > _search_calls(job):
        return "judge-call budget reached"
    if job.cost_cap is not None and (
        Decimal(job.cost) + worst_case_cost(job.judge, spec, rows) > _search_cost(job)
    ):
        return "cost cap reached"
    return ""


def _train_sample(job: RedTeamJob, train: Sequence[PairRow], generation: int) -> list[PairRow]:
    """The generation's fresh train sample: half target pairs, half benchmark pairs (seeded)."""
    half = job.sample_size // 2
    return sample(group_rows(train, "target"), half, job.seed, generation, "target") + sample(
        group_rows(train, "bench"), job.sample_size - half, job.seed, generation, "bench"
    )


def seed_step(job: RedTeamJob, train: Sequence[PairRow]) -> None:
    """Generation 0: the seed rubric on its train sample, the baseline of every fitness."""
    spec = job.rubric_version.to_spec()
    rows = _train_sample(job, train, 0)
    judged = judge_rubric(job.judge, spec, rows)
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
        PairVerdict.objects.bulk_create(verdict_rows(seed, judged, "train"))
        spend(job, judged, candidate=seed, step="generation 0", split="train")
        release(job, generation=0, candidates=1, best_fitness=seed.fitness, **spend_write(job))


def population(job: RedTeamJob) -> list[Candidate]:
    """The parents of the next generation: the fittest compliant candidates so far (seed too)."""
    scored = [
        search.Scored(c.pk, c.generation, c.index, c.fitness, c.compliant)
        for c in Candidate.objects.filter(job=job).exclude(kind=CandidateKind.BENIGN)
    ]
    keep = [s.id for s in search.survivors(scored, job.population)]
    by_id = Candidate.objects.in_bulk(keep)
    return [by_id[pk] for pk in keep]


def _child(
    job: RedTeamJob,
    candidate: Candidate,
    parent_spec: RubricSpec,
    rows: Sequence[PairRow],
    seed_scores: tuple[float | None, float | None],
    rng: random.Random,
) -> Judged | None:
    """Edit the parent into ``candidate`` and judge it on ``rows``; ``None`` when the editor's
    reply was unusable (the candidate keeps the parent's spec and the error)."""
    parent = candidate.parent
    assert parent is not None
    try:
        edit = candidate_edit(job, candidate, parent_spec, rng)
    except editors.EditorReplyError as exc:
        candidate.spec = parent.spec
        candidate.content_hash = parent.content_hash
        candidate.error = str(exc)[:2000]
        return None
    candidate.spec = spec_content(edit.spec)
    candidate.content_hash = content_hash(edit.spec)
    candidate.edit = edit.description
    judged = judge_rubric(job.judge, edit.spec, rows)
    spend(
        job, judged, candidate=candidate, step=f"generation {candidate.generation}", split="train"
    )
    seed_target, seed_bench = seed_scores
    target, bench = judged.accuracy(rows, "target"), judged.accuracy(rows, "bench")
    candidate.train_target, candidate.train_bench = target, bench
    candidate.seed_train_target, candidate.seed_train_bench = seed_target, seed_bench
    candidate.compliant = search.is_compliant(bench, seed_bench, job.tolerance)
    candidate.fitness = search.fitness(bench, target, seed_bench)
    candidate.judge_calls, candidate.cached_calls = judged.fresh_calls, judged.cached_calls
    return judged


def _children(
    job: RedTeamJob,
    generation: int,
    rows: Sequence[PairRow],
    seed_scores: tuple[float | None, float | None],
) -> tuple[Made, str]:
    """Each parent's ``children`` edits, judged, until the budget would break (the reason)."""
    made: Made = []
    index = 0
    for p_index, parent in enumerate(population(job)):
        parent_spec = spec_from_content(parent.spec)
        for c_index in range(job.children):
            stop = _over_budget(job, parent_spec, rows)
            if stop:
                return made, stop
            rng = editors.edit_rng(job.seed, generation, p_index, c_index)
            candidate = Candidate(
                job=job,
                generation=generation,
                index=index,
                kind=CandidateKind.SEARCH,
                parent=parent,
            )
            index += 1
            made.append((candidate, _child(job, candidate, parent_spec, rows, seed_scores, rng)))
    return made, ""


def _write_generation(job: RedTeamJob, generation: int, made: Made, stop: str) -> None:
    """The generation's candidates, their verdicts and the job's position, in one transaction."""
    with transaction.atomic():
        # A duplicate step (a redelivered message racing a resumed one) must not write twice.
        if RedTeamJob.objects.filter(pk=job.pk, generation__gte=generation).exists():
            return
        Candidate.objects.bulk_create([c for c, _ in made])
        verdicts: list[PairVerdict] = []
        for candidate, outcome in made:
            if outcome is not None:
                verdicts.extend(verdict_rows(candidate, outcome, "train"))
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
            **spend_write(job),
        }
        if stop:
            changes.update(phase=Phase.SELECT, stop_reason=stop)
        release(job, **changes)


def generation_step(job: RedTeamJob, train: Sequence[PairRow]) -> None:
    """One generation: each parent gets ``children`` edits, all judged on a fresh train sample."""
    generation = job.generation + 1
    rows = _train_sample(job, train, generation)
    seed_judged = judge_rubric(job.judge, job.rubric_version.to_spec(), rows)
    seed = Candidate.objects.filter(job=job, kind=CandidateKind.SEED).first()
    spend(job, seed_judged, candidate=seed, step=f"generation {generation}", split="train")
    seed_scores = (seed_judged.accuracy(rows, "target"), seed_judged.accuracy(rows, "bench"))
    made, stop = _children(job, generation, rows, seed_scores)
    _write_generation(job, generation, made, stop)
