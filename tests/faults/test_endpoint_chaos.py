"""A run against a misbehaving OpenAI-compatible endpoint, through a real worker.

The loopback fake server answers 20% of requests with 429 (Retry-After 0.1 s), 5% with 500,
hangs on 2% (the judge's timeout is 1.5 s) and sends a garbage body on 2% (half a JSON body, or
an HTML page with status 200). Two pairs are scripted on top: one whose every attempt gets a
garbage body (its retries run out: failed, verdict invalid), one whose answers are refusals (an
answer without a verdict: done, verdict invalid). The run must end, with every request the
server saw accounted for in the judgments' attempt counts, and the invalid verdicts visible in
the API and on the run page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Q, Sum

from apps.judging.models import JudgingRun, Judgment, JudgmentStatus, RunStatus, Verdict
from apps.judging.services import run_start
from tests.factories import make_judge, make_reference_set, make_version
from tests.fake_openai_server import FakeServerConfig, FaultRule, running_fake_server
from tests.faults.conftest import Evidence, wait_for

PAIRS = 300
FAULTS = {"429": 0.20, "500": 0.05, "hang": 0.02, "badjson": 0.01, "nonjson": 0.01}
MAX_ATTEMPTS = 4
# Both orders of a pair carry its prompt, so a rule on the prompt hits both orders.
EXHAUSTED_PAIR = "(case 7)"
REFUSED_PAIR = "(case 11)"


@pytest.mark.worker
@pytest.mark.slow
def test_endpoint_chaos_run_finishes_with_retries_and_invalid_verdicts_counted(
    evidence: Evidence,
    celery_worker_process: Any,
    project: Any,
    members: dict[str, Any],
    api_client_for: Any,
    client: Any,
) -> None:
    config = FakeServerConfig(
        fault_probabilities=FAULTS,
        retry_after_s=0.1,
        hang_s=5.0,
        seed=7,
        rules=(
            FaultRule(contains=EXHAUSTED_PAIR, faults=("badjson",) * (2 * MAX_ATTEMPTS)),
            FaultRule(contains=REFUSED_PAIR, faults=("refusal", "refusal")),
        ),
    )
    with running_fake_server(config) as server:
        version = make_version(project)
        reference = make_reference_set(project, n_pairs=PAIRS)
        judge = make_judge(
            project,
            name="Flaky endpoint",
            backend="openai",
            model="fake-judge",
            base_url=server.base_url,
            concurrency=16,
            params={
                "chunk_size": 100,
                "timeout_s": 1.5,
                "max_attempts": MAX_ATTEMPTS,
                "backoff_base_s": 0.1,
                "backoff_cap_s": 1.0,
            },
        )
        celery_worker_process(queues="api", concurrency=1)
        evidence(
            f"injected: fake endpoint {server.base_url} with fault probabilities {FAULTS}, "
            f"Retry-After {config.retry_after_s}s, judge timeout 1.5s; every attempt for "
            f"{EXHAUSTED_PAIR} gets a garbage body, {REFUSED_PAIR} gets refusals"
        )
        run = run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
        finished = wait_for(
            lambda: (r := JudgingRun.objects.get(pk=run.pk)).is_finished and r,
            timeout=240,
            what="the run ends",
        )
        stats = server.stats()

    judgments = Judgment.objects.filter(run=run)
    figures = judgments.aggregate(
        attempts_sum=Sum("attempts"),
        retried=Count("id", filter=Q(attempts__gt=1)),
        invalid=Count("id", filter=Q(verdict=Verdict.INVALID)),
        failed=Count("id", filter=Q(status=JudgmentStatus.FAILED)),
        answered=Count("id", filter=Q(status=JudgmentStatus.DONE)),
    )
    counts = dict(sorted(stats.counts.items()))
    evidence(
        f"server saw {stats.total} requests by kind {counts}, at most {stats.max_in_flight} "
        "in flight"
    )
    evidence(
        f"run {finished.status}: {finished.done} done, {finished.failed} failed of "
        f"{finished.total}; attempts {figures['attempts_sum']} (retries "
        f"{figures['attempts_sum'] - finished.total}, {figures['retried']} judgments retried); "
        f"invalid verdicts {figures['invalid']} ({figures['failed']} failed after their "
        f"retries, {figures['invalid'] - figures['failed']} answers without a verdict)"
    )

    # The run ended, with every item accounted for.
    assert finished.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
    assert finished.done + finished.failed == finished.total == 2 * PAIRS
    assert not judgments.filter(status=JudgmentStatus.PENDING).exists()
    # Every request the server saw is one recorded attempt (Judgment.attempts).
    assert stats.total == figures["attempts_sum"]
    # An attempt got either a fault or an answer, and each judgment that is done got one answer.
    faults_seen = sum(n for kind, n in stats.counts.items() if kind not in ("ok", "refusal"))
    assert stats.counts["ok"] + stats.counts["refusal"] == figures["answered"] == finished.done
    assert faults_seen == figures["attempts_sum"] - figures["answered"]
    assert all(stats.counts[kind] > 0 for kind in ("429", "500", "hang"))
    assert stats.counts["badjson"] + stats.counts["nonjson"] >= 2 * MAX_ATTEMPTS
    # The scripted pairs: retries exhausted on both orders, and refusals.
    exhausted = judgments.filter(pair__prompt__contains=EXHAUSTED_PAIR)
    assert (
        list(exhausted.values_list("status", "verdict", "attempts"))
        == [(JudgmentStatus.FAILED, Verdict.INVALID, MAX_ATTEMPTS)] * 2
    )
    assert all("gave up after" in e for e in exhausted.values_list("error", flat=True))
    refused = judgments.filter(pair__prompt__contains=REFUSED_PAIR)
    assert (
        list(refused.values_list("status", "verdict"))
        == [(JudgmentStatus.DONE, Verdict.INVALID)] * 2
    )
    assert figures["invalid"] >= 4 and figures["failed"] == finished.failed >= 2

    # Visible through the API...
    api = api_client_for(members["viewer"])
    listed = api.get(f"/api/runs/{run.pk}/judgments/", {"verdict": "invalid"})
    assert listed.status_code == 200 and listed.json()["count"] == figures["invalid"]
    detail = api.get(f"/api/runs/{run.pk}/").json()
    assert detail["failed"] == finished.failed
    assert detail["accuracy"]["overall"]["invalid_rate"] > 0
    # ...and on the run page.
    client.force_login(members["viewer"])
    page = client.get(f"/p/{project.slug}/runs/{run.pk}/").content.decode()
    failures = judgments.exclude(error="").count()
    assert f"Failures and errors ({failures})" in page
    assert "Invalid rate" in page
    evidence(
        f"verified: API lists {listed.json()['count']} invalid judgments, accuracy invalid_rate "
        f"{detail['accuracy']['overall']['invalid_rate']:.4f}, run page shows 'Failures and "
        f"errors ({failures})'; {stats.total} server requests = {figures['attempts_sum']} recorded "
        "attempts"
    )
