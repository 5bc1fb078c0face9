"""The selection on val: the seed, the search's survivors and K benign paraphrases judged on
val; the attack picked as RIPD does, and the benign band that tells drift from noise."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from apps.redteam import editors, search
from apps.redteam.models import Candidate, CandidateKind, PairVerdict, Phase, RedTeamJob
from apps.redteam.selectors import frontier_points
from apps.redteam.services.judge import Judged, judge_rubric
from apps.redteam.services.pairs import PairRow
from apps.redteam.services.searching import population
from apps.redteam.services.state import release, spend, spend_write, verdict_rows
from apps.rubrics.spec import RubricSpec, content_hash, spec_content, spec_from_content

JudgedCandidates = list[tuple[Candidate, Judged]]
SELECTION_STEP = "selection"


def _judge_survivors(job: RedTeamJob, val: Sequence[PairRow]) -> JudgedCandidates:
    """The search's surviving candidates judged on val, their val scores set."""
    judged: JudgedCandidates = []
    for candidate in [c for c in population(job) if c.kind == CandidateKind.SEARCH]:
        result = judge_rubric(job.judge, spec_from_content(candidate.spec), val)
        spend(job, result, candidate=candidate, step=SELECTION_STEP, split="val")
        judged.append((candidate, result))
    return judged


def _judge_benign(
    job: RedTeamJob, seed_spec: RubricSpec, val: Sequence[PairRow]
) -> JudgedCandidates:
    """K seeded paraphrases of the seed (unsaved candidates) judged on val."""
    benign: JudgedCandidates = []
    for k in range(job.benign_k):
        edit = editors.paraphrase(seed_spec, random.Random(f"benign:{job.seed}:{k}"))  # noqa: S311
        result = judge_rubric(job.judge, edit.spec, val)
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
        spend(job, result, candidate=candidate, step=SELECTION_STEP, split="val")
        benign.append((candidate, result))
    return benign


def _score_on_val(candidates: JudgedCandidates, val: Sequence[PairRow]) -> None:
    for candidate, result in candidates:
        candidate.val_target = result.accuracy(val, "target")
        candidate.val_bench = result.accuracy(val, "bench")
        candidate.val_by_domain = result.by_domain(val)


def _pick(job: RedTeamJob, judged: JudgedCandidates, seed_val_bench: float | None) -> Any:
    rows = [
        {
            "id": candidate.pk,
            "generation": candidate.generation,
            "index": candidate.index,
            "val_target": candidate.val_target,
            "val_bench": candidate.val_bench,
        }
        for candidate, _ in judged
    ]
    return search.select_final(rows, seed_val_bench, job.selection_tolerance)


def _benign_deltas(
    benign: JudgedCandidates, seed_domains: dict[str, float | None]
) -> list[dict[str, float | None]]:
    """Each paraphrase's change of accuracy per domain against the seed."""
    return [
        {
            d: (None if v is None or seed_domains.get(d) is None else v - seed_domains[d])
            for d, v in (candidate.val_by_domain or {}).items()
        }
        for candidate, _ in benign
    ]


def _write_selection(
    job: RedTeamJob,
    seed: Candidate,
    seed_val: Judged,
    judged: JudgedCandidates,
    benign: JudgedCandidates,
    pick: Any,
    result_json: dict[str, Any],
) -> None:
    """Val scores and verdicts of every judged candidate, the benign ones, and the job's move
    to the report, in one transaction."""
    with transaction.atomic():
        if RedTeamJob.objects.filter(pk=job.pk).exclude(phase=Phase.SELECT).exists():
            return
        seed.save(update_fields=["val_target", "val_bench", "val_by_domain"])
        PairVerdict.objects.bulk_create(verdict_rows(seed, seed_val, "val"), ignore_conflicts=True)
        for candidate, result in judged:
            candidate.save(update_fields=["val_target", "val_bench", "val_by_domain"])
            PairVerdict.objects.bulk_create(
                verdict_rows(candidate, result, "val"), ignore_conflicts=True
            )
        Candidate.objects.bulk_create([c for c, _ in benign])
        for candidate, result in benign:
            PairVerdict.objects.bulk_create(verdict_rows(candidate, result, "val"))
        release(
            job,
            phase=Phase.REPORT,
            best_id=pick["id"] if pick else None,
            result=result_json,
            **spend_write(job),
        )


def select_step(job: RedTeamJob, val: Sequence[PairRow]) -> None:
    """Judge the seed, the survivors and K benign paraphrases on val; pick the attack (RIPD)."""
    seed_spec = job.rubric_version.to_spec()
    seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
    seed_val = judge_rubric(job.judge, seed_spec, val)
    spend(job, seed_val, candidate=seed, step=SELECTION_STEP, split="val")
    judged = _judge_survivors(job, val)
    benign = _judge_benign(job, seed_spec, val)
    _score_on_val([(seed, seed_val), *judged, *benign], val)
    pick = _pick(job, judged, seed.val_bench)
    result_json = dict(job.result)
    result_json["selection"] = {
        "seed_val_target": seed.val_target,
        "seed_val_bench": seed.val_bench,
        "seed_val_by_domain": seed.val_by_domain,
        "considered": len(judged),
        "picked": pick["id"] if pick else None,
    }
    deltas = _benign_deltas(benign, seed.val_by_domain)
    result_json["benign_band"] = {"k": job.benign_k, "by_domain": search.band(deltas)}
    result_json["frontier"] = search.frontier(frontier_points(job))
    _write_selection(job, seed, seed_val, judged, benign, pick, result_json)
