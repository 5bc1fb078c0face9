"""The whole loop against the loopback OpenAI-compatible server, used as the judge and as the
LLM editor (feedback poisoning on): it runs, and no test-split pair reaches the judge before
the final report."""

from __future__ import annotations

from typing import Any

import pytest

from apps.redteam import services
from apps.redteam.models import Candidate, JobStatus, PairVerdict, Phase, RedTeamJob
from tests.factories import make_judge
from tests.fake_openai_server import running_fake_server
from tests.redteam.factories import demo_rubric_version, redteam_reference_set

pytestmark = pytest.mark.django_db


def test_loop_against_the_loopback_server_never_judges_test_pairs_before_the_report(
    project: Any, members: Any
) -> None:
    version = demo_rubric_version(project, members["admin"])
    reference = redteam_reference_set(project, extra=40)
    with running_fake_server() as server:
        judge = make_judge(
            project,
            name="Loopback judge",
            backend="openai",
            model="fake-judge",
            base_url=server.base_url,
            concurrency=16,
            price_in="1",
            price_out="2",
        )
        editor = make_judge(
            project,
            name="Loopback editor",
            backend="openai",
            model="fake-editor",
            base_url=server.base_url,
            price_in="1",
            price_out="2",
        )
        job = services.redteam_start(
            actor=members["admin"],
            rubric_version=version,
            judge=judge,
            reference_set=reference,
            targets=["harmlessness"],
            editor=editor,
            poison_feedback=True,
            generations=2,
            population=2,
            children=2,
            sample_size=40,
            benign_k=2,
            seed=11,
            dispatch=False,
        )
        # How a pair's prompt opens the judge's user message (apps.judging.prompting).
        test_pairs = {
            r.pair_id: f"[Prompt]\n{r.text.prompt}\n\n" for r in services.job_pairs(job)["test"]
        }
        assert test_pairs
        # Step until the report is next: everything the search and the selection asked for.
        for _ in range(10):
            job.refresh_from_db()
            if job.phase == Phase.REPORT or job.is_finished:
                break
            services.job_step(job_id=job.pk, dispatch=False)
        job.refresh_from_db()
        assert job.phase == Phase.REPORT and job.status == JobStatus.RUNNING, job.error
        asked = [record.text for record in server.stats().log]
        judge_requests = [text for text in asked if "[[REVISE RUBRIC]]" not in text]
        editor_requests = len(asked) - len(judge_requests)
        # Generation 1 rewrites the seed twice; generation 2 each of the two survivors twice.
        assert editor_requests == job.editor_calls == 1 * 2 + 2 * 2
        assert judge_requests
        leaked = [
            pk for pk, prompt in test_pairs.items() if any(prompt in t for t in judge_requests)
        ]
        assert leaked == []
        assert not PairVerdict.objects.filter(candidate__job=job, split="test").exists()

        services.job_step(job_id=job.pk, dispatch=False)
        reported = [record.text for record in server.stats().log][len(asked) :]
    job = RedTeamJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    rewrites = Candidate.objects.filter(job=job, kind="search")
    assert rewrites.count() == job.candidates - 1
    assert all("LLM rewrite by Loopback editor (poisoned feedback)" in c.edit for c in rewrites)
    assert all(
        c.content_hash != Candidate.objects.get(job=job, kind="seed").content_hash for c in rewrites
    )
    on_test = set(
        PairVerdict.objects.filter(candidate__job=job, split="test").values_list(
            "candidate__kind", flat=True
        )
    )
    if job.best_id is None:
        assert on_test == set() and job.result["verdict"] == "robust"
    else:
        assert on_test == {"seed", "search"}
        # The report is what reads test, and the check above would have seen it.
        assert all(any(p in text for text in reported) for p in test_pairs.values())
        assert job.draft_version is not None and not job.draft_version.is_published
    assert job.cost > 0 and job.judge_calls > 0
