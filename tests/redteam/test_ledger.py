"""A red team's spend ledger adds up to the job's figures exactly, names the candidate of every
charge, and counts a retried or duplicated step once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from apps.redteam import selectors, services
from apps.redteam.models import (
    Candidate,
    CandidateKind,
    JobStatus,
    Phase,
    RedTeamJob,
    SpendEntry,
    SpendKind,
)
from apps.redteam.services import searching, selection
from tests.factories import make_judge
from tests.fake_openai_server import running_fake_server
from tests.redteam.factories import demo_rubric_version, redteam_reference_set

pytestmark = pytest.mark.django_db

OPTIONS = {
    "targets": ["harmlessness"],
    "generations": 2,
    "population": 2,
    "children": 2,
    "sample_size": 40,
    "benign_k": 2,
    "seed": 11,
}


@pytest.fixture
def fake_server() -> Iterator[Any]:
    with running_fake_server() as server:
        yield server


def start_job(project: Any, actor: Any, *, editor_url: str | None = None, **options: Any) -> Any:
    """A red team of the demo rubric with the offline judge, priced so that tokens cost money;
    with ``editor_url``, its editor is the OpenAI-compatible model served there."""
    editor = None
    if editor_url is not None:
        editor = make_judge(
            project,
            name="Loopback editor",
            backend="openai",
            model="fake-editor",
            base_url=editor_url,
            price_in="1",
            price_out="2",
        )
    return services.redteam_start(
        actor=actor,
        rubric_version=demo_rubric_version(project, actor),
        judge=make_judge(project, name="Priced offline", price_in="2", price_out="4"),
        reference_set=redteam_reference_set(project, extra=40),
        editor=editor,
        dispatch=False,
        **{**OPTIONS, **options},
    )


def ledger_totals(job: RedTeamJob) -> dict[str, Any]:
    return selectors.spend_totals(selectors.spend_entries(job=job))


def job_figures(job: RedTeamJob) -> dict[str, Any]:
    job.refresh_from_db()
    return {name: getattr(job, name) for name in selectors.LEDGER_FIGURES}


def assert_every_charge_names_its_candidate(job: RedTeamJob) -> None:
    entries = list(SpendEntry.objects.filter(job=job).select_related("candidate"))
    assert entries and all(e.candidate is not None for e in entries)
    assert {e.candidate.job_id for e in entries if e.candidate} == {job.pk}
    # A search child's own judging on its generation's train sample is its entry there.
    for candidate in Candidate.objects.filter(job=job, kind=CandidateKind.SEARCH, error=""):
        own = [
            e
            for e in entries
            if e.candidate_id == candidate.pk
            and e.kind == SpendKind.JUDGE
            and e.step == f"generation {candidate.generation}"
        ]
        assert len(own) == 1
        assert (own[0].judge_calls, own[0].cached_calls) == (
            candidate.judge_calls,
            candidate.cached_calls,
        )
    # The seed is re-judged on each generation's sample, then on val and on test.
    seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
    seed_steps = sorted(e.step for e in entries if e.candidate_id == seed.pk)
    expected = [f"generation {g}" for g in range(job.generation + 1)] + ["selection"]
    if job.best_id is not None:
        expected.append("report")
    assert seed_steps == sorted(expected)
    benign = Candidate.objects.filter(job=job, kind=CandidateKind.BENIGN)
    assert benign.count() == job.benign_k
    assert {e.candidate_id for e in entries if e.split == "val"} >= set(
        benign.values_list("pk", flat=True)
    )


def test_the_ledger_of_a_whole_job_adds_up_to_its_figures(project: Any, members: Any) -> None:
    job = services.job_execute(job=start_job(project, members["admin"]))
    assert job.status == JobStatus.SUCCEEDED, job.error
    figures = job_figures(job)
    assert figures["judge_calls"] > 0 and figures["cost"] > 0 and figures["tokens_in"] > 0
    assert ledger_totals(job) == figures
    assert_every_charge_names_its_candidate(job)
    steps = set(SpendEntry.objects.filter(job=job).values_list("step", "split"))
    assert {("generation 0", "train"), ("generation 2", "train"), ("selection", "val")} <= steps
    if job.best_id is not None:
        report = SpendEntry.objects.filter(job=job, step="report")
        assert set(report.values_list("split", flat=True)) == {"test"}
        seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
        assert set(report.values_list("candidate_id", flat=True)) == {seed.pk, job.best_id}


def test_editor_calls_are_charged_to_the_children_they_made(
    project: Any, members: Any, fake_server: Any
) -> None:
    job = services.job_execute(
        job=start_job(project, members["admin"], editor_url=fake_server.base_url)
    )
    assert job.status == JobStatus.SUCCEEDED, job.error
    figures = job_figures(job)
    # Generation 1 rewrites the seed twice; generation 2 each of the two survivors twice.
    assert figures["editor_calls"] == 1 * 2 + 2 * 2
    assert ledger_totals(job) == figures
    assert_every_charge_names_its_candidate(job)
    edits = SpendEntry.objects.filter(job=job, kind=SpendKind.EDITOR).select_related("candidate")
    assert edits.count() == figures["editor_calls"]
    for entry in edits:
        assert entry.candidate is not None and entry.candidate.kind == CandidateKind.SEARCH
        assert entry.step == f"generation {entry.candidate.generation}"
        assert entry.split == "" and entry.pairs == 0 and entry.cost > 0
    assert sorted(Counter(e.candidate_id for e in edits).values()) == [1] * edits.count()
    editor_cost = sum((e.cost for e in edits), Decimal(0))
    judge_cost = sum(
        (e.cost for e in SpendEntry.objects.filter(job=job, kind=SpendKind.JUDGE)), Decimal(0)
    )
    assert editor_cost + judge_cost == figures["cost"]


def _fresh(job: RedTeamJob) -> RedTeamJob:
    """The job as a step claims it: a new instance, nothing pending."""
    return RedTeamJob.objects.select_related("judge", "editor", "rubric_version__rubric").get(
        pk=job.pk
    )


def test_a_step_that_dies_before_its_write_and_a_duplicate_step_count_once(
    project: Any, members: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = start_job(project, members["admin"])
    assert services.job_step(job_id=job.pk, dispatch=False) == "search"  # the seed
    train = services.job_pairs(job)["train"]

    # Generation 1 dies inside its transaction, after its entries were added there.
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(searching, "release", crash)
    with pytest.raises(RuntimeError):
        searching.generation_step(_fresh(job), train)
    monkeypatch.undo()
    assert SpendEntry.objects.filter(job=job, step="generation 1").count() == 0
    assert ledger_totals(job) == job_figures(job)

    # Two steps of generation 1 at once (a redelivered message beside the resumed step): the
    # one that writes second writes nothing.
    first, second = _fresh(job), _fresh(job)
    searching.generation_step(first, train)
    written = SpendEntry.objects.filter(job=job).count()
    searching.generation_step(second, train)
    assert SpendEntry.objects.filter(job=job).count() == written
    assert ledger_totals(job) == job_figures(job)
    assert job_figures(job)["judge_calls"] > 0

    # The same for the selection on val.
    while _fresh(job).phase == Phase.SEARCH:
        services.job_step(job_id=job.pk, dispatch=False)
    val = services.job_pairs(job)["val"]
    first, second = _fresh(job), _fresh(job)
    selection.select_step(first, val)
    written = SpendEntry.objects.filter(job=job).count()
    selection.select_step(second, val)
    assert SpendEntry.objects.filter(job=job).count() == written
    on_val = Candidate.objects.filter(job=job, kind=CandidateKind.SEARCH, val_target__isnull=False)
    assert SpendEntry.objects.filter(job=job, step="selection").count() == (
        1 + on_val.count() + job.benign_k
    )
    services.job_execute(job=job)
    assert _fresh(job).status == JobStatus.SUCCEEDED
    assert ledger_totals(job) == job_figures(job)
    once = Counter(
        SpendEntry.objects.filter(job=job, kind=SpendKind.JUDGE).values_list("candidate_id", "step")
    )
    assert set(once.values()) == {1}
