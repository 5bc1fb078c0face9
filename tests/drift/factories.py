"""Drift test objects: reference sets of chosen pairs and finished runs with chosen verdicts.

A *block* describes ``count`` pairs of one domain: their gold label, the verdict of the baseline
and of the candidate run, and the two responses (so lengths and refusals, which the direction
tests read from the real pair texts, are under the test's control).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from apps.accounts.models import Project
from apps.datasets.models import Dataset, Pair, ReferenceSet
from apps.drift.models import DriftGuard
from apps.judging.models import JudgeConfig, JudgingRun, Judgment, JudgmentStatus, RunStatus
from apps.rubrics.models import Rubric, RubricVersion
from tests.factories import (
    HELPFUL_CRITERIA,
    SAFE_CRITERIA,
    make_judge,
    make_reference_set,
    make_version,
    pair_digest,
)

SHORT = "A short answer."
LONG = "A long and detailed answer that covers every step of the question, with examples. " * 3
REFUSAL = "I'm sorry, but I can't help with that request."

_counter = itertools.count()


@dataclass(frozen=True)
class Block:
    """``count`` pairs of ``domain`` with the same gold label and verdicts."""

    domain: str
    count: int
    gold: str = "A"
    baseline: str = "A"
    candidate: str = "A"
    response_a: str = SHORT
    response_b: str = SHORT + " "  # differs from A, same length class


@dataclass
class Scenario:
    """A rubric with two published versions, a judge, a snapshot and a run of each version."""

    rubric: Rubric
    v1: RubricVersion
    v2: RubricVersion
    judge: JudgeConfig
    reference_set: ReferenceSet
    pairs: list[Pair]
    baseline_run: JudgingRun
    candidate_run: JudgingRun
    extra: dict[str, Any] = field(default_factory=dict)


def make_reference(
    project: Project, blocks: Sequence[Block], *, name: str = "Drift reference"
) -> tuple[ReferenceSet, list[Pair]]:
    """A dataset with the blocks' pairs and a reference snapshot of their gold labels."""
    serial = next(_counter)
    dataset = Dataset.objects.create(project=project, name=f"Drift pairs {serial}")
    pairs = []
    index = 0
    for block in blocks:
        for _ in range(block.count):
            prompt = f"Question {index} about {block.domain} ({serial})?"
            a, b = block.response_a, block.response_b
            digest = pair_digest(prompt, a, b)
            pairs.append(
                Pair(
                    dataset=dataset,
                    external_id=f"q{index}",
                    prompt=prompt,
                    response_a=a,
                    response_b=b,
                    domain=block.domain,
                    gold_label=block.gold,
                    content_hash=digest,
                )
            )
            index += 1
    pairs = Pair.objects.bulk_create(pairs)
    return make_reference_set(project, pairs=pairs, name=name), pairs


def make_run(
    *,
    version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet,
    verdicts: Sequence[str],
    pairs: Sequence[Pair],
    status: str = RunStatus.SUCCEEDED,
    use_cache: bool = True,
    rationale: str = "",
) -> JudgingRun:
    """A finished run whose pair verdicts are ``verdicts`` (both orders agree), in pair order."""
    now = timezone.now()
    run = JudgingRun.objects.create(
        project=version.rubric.project,
        rubric_version=version,
        judge=judge,
        reference_set=reference_set,
        status=status,
        total=2 * len(pairs),
        done=2 * len(pairs),
        use_cache=use_cache,
        started_at=now,
        finished_at=now,
        purpose="test",
    )
    Judgment.objects.bulk_create(
        Judgment(
            run=run,
            pair=pair,
            order=order,
            status=JudgmentStatus.DONE,
            verdict=verdict,
            rationale=f"{rationale} ({order})" if rationale else "",
        )
        for pair, verdict in zip(pairs, verdicts, strict=True)
        for order in ("AB", "BA")
    )
    return run


def set_guard(rubric: Rubric, **values: Any) -> DriftGuard:
    """Write the rubric's drift guard directly (on by default), as a fixture, unaudited."""
    values.setdefault("enabled", True)
    guard, _ = DriftGuard.objects.update_or_create(rubric=rubric, defaults=values)
    return guard


def run_verdicts(run: JudgingRun) -> list[str]:
    """A finished run's verdicts in pair order (as ``make_run`` takes them)."""
    rows = run.judgments.filter(order="AB").order_by("pair_id")
    return list(rows.values_list("verdict", flat=True))


def make_scenario(
    project: Project,
    blocks: Sequence[Block],
    *,
    judge: JudgeConfig | None = None,
    guard: bool = True,
) -> Scenario:
    """Two published versions (v2 a child of v1) and a finished run of each on the blocks."""
    v1 = make_version(project, criteria=SAFE_CRITERIA)
    v2 = make_version(v1.rubric.project, rubric=v1.rubric, criteria=HELPFUL_CRITERIA, parent=v1)
    judge = judge or make_judge(project, name=f"Judge {next(_counter)}")
    reference_set, pairs = make_reference(project, blocks)
    expanded = [(block, i) for block in blocks for i in range(block.count)]
    baseline = make_run(
        version=v1,
        judge=judge,
        reference_set=reference_set,
        verdicts=[block.baseline for block, _ in expanded],
        pairs=pairs,
        rationale="baseline reasoning",
    )
    candidate = make_run(
        version=v2,
        judge=judge,
        reference_set=reference_set,
        verdicts=[block.candidate for block, _ in expanded],
        pairs=pairs,
        rationale="candidate reasoning",
    )
    rubric = v1.rubric
    if guard:
        set_guard(rubric, judge=judge, reference_set=reference_set)
    return Scenario(
        rubric=rubric,
        v1=v1,
        v2=v2,
        judge=judge,
        reference_set=reference_set,
        pairs=pairs,
        baseline_run=baseline,
        candidate_run=candidate,
    )


# Blocks of the classic cases. 40 pairs per domain keep McNemar's exact test clearly
# significant for 12 discordant pairs (p = 2 * 0.5**12) even after Holm's correction.
MASKED = (
    Block("harmlessness", 28, gold="A", baseline="A", candidate="A"),
    Block("harmlessness", 12, gold="A", baseline="A", candidate="B"),
    Block("helpfulness", 28, gold="A", baseline="A", candidate="A"),
    Block("helpfulness", 12, gold="A", baseline="B", candidate="A"),
)
UNCHANGED = (
    Block("harmlessness", 20, gold="A", baseline="A", candidate="A"),
    Block("helpfulness", 20, gold="B", baseline="B", candidate="B"),
)
