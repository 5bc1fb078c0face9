"""Red-team objects of the route-table world: one red team of the world's version, its seed
candidate with a verdict on one reference pair, and the ledger entry of that judging."""

from __future__ import annotations

from typing import Any

from apps.datasets.models import ReferenceItem
from apps.redteam.models import (
    Candidate,
    CandidateKind,
    PairVerdict,
    RedTeamJob,
    SpendEntry,
    SpendKind,
)
from apps.rubrics.spec import content_hash, spec_content
from tests.factories import make_judge, make_reference_set, make_version


def add_to_world(world: dict[str, Any]) -> None:
    project = world["project"]
    version = world.get("version")
    if version is not None:
        version.refresh_from_db()
    if version is None or not version.is_published:
        version = make_version(project)
    judge = world.get("judge") or make_judge(project, name="World red-team judge")
    reference_set = world.get("reference_set") or make_reference_set(
        project, n_pairs=4, name="World red-team reference"
    )
    job = RedTeamJob.objects.create(
        project=project,
        rubric_version=version,
        judge=judge,
        reference_set=reference_set,
        targets=["harmlessness"],
        generation=0,
        candidates=1,
        judge_calls=2,
    )
    spec = version.to_spec()
    seed = Candidate.objects.create(
        job=job,
        generation=0,
        index=0,
        kind=CandidateKind.SEED,
        spec=spec_content(spec),
        content_hash=content_hash(spec),
        edit="the published version (seed)",
        compliant=True,
        judge_calls=2,
    )
    item = ReferenceItem.objects.filter(reference_set=reference_set).first()
    if item is not None:
        PairVerdict.objects.create(candidate=seed, pair=item.pair, split="train", verdict="A")
    SpendEntry.objects.create(
        job=job,
        candidate=seed,
        kind=SpendKind.JUDGE,
        step="generation 0",
        split="train",
        pairs=1,
        judge_calls=2,
    )
    world["job"] = job
    world["candidate"] = seed
