"""The reference pairs of a red-team job, by split and by group (target or benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apps.datasets.models import ReferenceItem, ReferenceSet
from apps.judging.types import PairText
from apps.redteam.models import RedTeamJob
from apps.redteam.split import split_pairs


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


def group_rows(rows: Sequence[PairRow], group: str) -> list[PairRow]:
    """The rows of one group (``target`` or ``bench``), in their order."""
    return [r for r in rows if r.group == group]
