"""Clause attribution against the loopback OpenAI-compatible server, on a real Celery worker:
the job runs, never spends more than its budget, and reuses the judging cache (call counts)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from apps.forensics import services
from apps.forensics.models import Attribution, JobStatus
from apps.judging.models import CachedJudgment
from tests.conftest import wait_until
from tests.factories import make_judge, make_reference_set
from tests.fake_openai_server import FakeServerConfig, running_fake_server
from tests.forensics.factories import drifting_edit

N_PAIRS = 12


def _finished(job_id: int) -> Attribution | None:
    job = Attribution.objects.get(pk=job_id)
    return None if job.is_active else job


def _attribute(actor: Any, report: Any, budget: int) -> Attribution:
    job = services.attribution_start(actor=actor, report=report, budget=budget)
    found = wait_until(lambda: _finished(job.pk), timeout=120)
    assert isinstance(found, Attribution)
    return found


@pytest.mark.worker
def test_attribution_on_the_loopback_server_within_budget_and_from_the_cache(
    celery_worker_process: Any, project: Any, members: Any, settings: Any
) -> None:
    # Every attribution here is started by the test, with its own budget (an alert the report
    # may raise would otherwise start one on commit).
    settings.FORENSICS_AUTO_ATTRIBUTE = False
    with running_fake_server(FakeServerConfig()) as server:
        judge = make_judge(
            project,
            name="Loopback judge",
            backend="openai",
            model="fake-judge",
            base_url=server.base_url,
            params={"backoff_base_s": 0.01, "backoff_cap_s": 0.05},
        )
        # The report's two runs are judged here; the server derives each verdict from the
        # request, so the edit flips some pairs.
        edit = drifting_edit(project, judge, make_reference_set(project, n_pairs=N_PAIRS))
        assert server.stats().total == 2 * 2 * N_PAIRS
        flips = len(edit.report.stats["flipped"])
        assert flips > 0
        celery_worker_process(queues="api", concurrency=1)
        server.reset_stats()
        cached_before = CachedJudgment.objects.count()

        # Too small a budget: the job fails saying what it needs, and asks the server nothing.
        refused = _attribute(members["author"], edit.report, budget=1)
        assert refused.status == JobStatus.FAILED
        match = re.search(r"needs (\d+) judge calls", refused.error)
        assert match is not None, refused.error
        needed = int(match.group(1))
        assert server.stats().total == 0

        # Exactly that budget: the job runs on the api queue and spends all of it, no more.
        job = _attribute(members["author"], edit.report, budget=needed)
        assert job.status == JobStatus.READY, job.error
        assert job.calls == needed == server.stats().total
        hunks = len(job.result["hunks"])
        pairs = job.result["n_flips"] + job.result["n_controls"]
        assert pairs == N_PAIRS
        assert job.requests == (2 + 2 * hunks) * 2 * pairs
        # The full baseline and candidate were answered by the report's runs: cache hits.
        assert job.cache_hits >= 2 * 2 * pairs
        assert job.calls + job.cache_hits <= job.requests
        assert CachedJudgment.objects.count() == cached_before + needed
        if job.result["interactions_note"]:
            assert "not tested" in job.result["interactions_note"]

        # Again, with room for interactions: every single-hunk answer now comes from the cache.
        again = _attribute(members["author"], edit.report, budget=10 * needed)
        assert again.status == JobStatus.READY, again.error
        single = (2 + 2 * hunks) * 2 * pairs
        assert again.cache_hits >= single
        assert server.stats().total == needed + again.calls
        assert again.result["hunks"] == job.result["hunks"]
