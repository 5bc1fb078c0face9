"""The run machinery: start, chunks, idempotency, cache, cancel, failures, resume and sweep."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.core.tasks import sweep_stale_work
from apps.judging import selectors, services, tasks
from apps.judging.backends.base import BackendConfig, backend_class
from apps.judging.models import (
    CachedJudgment,
    ChunkStatus,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
)
from apps.judging.prompting import make_request
from apps.judging.protocol import accuracy_summary, aggregate_pair, to_pair_verdict
from apps.judging.types import PairText
from tests.factories import (
    SAFE_CRITERIA,
    make_dataset,
    make_judge,
    make_reference_set,
    make_version,
)

pytestmark = pytest.mark.django_db


def _start(version: Any, judge: Any, reference_set: Any, **options: Any) -> JudgingRun:
    options.setdefault("dispatch", False)
    return services.run_start(
        actor=None, rubric_version=version, judge=judge, reference_set=reference_set, **options
    )


def test_start_creates_two_pending_judgments_per_pair_and_dispatches_after_commit(
    project: Any, members: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    version = make_version(project)
    reference_set = make_reference_set(project, n_pairs=130)
    judge = make_judge(project, params={"chunk_size": 100})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.run_start(
            actor=members["author"],
            rubric_version=version,
            judge=judge,
            reference_set=reference_set,
        )
        # Nothing judged yet: the chunks go out only once the transaction commits.
        assert run.status == RunStatus.QUEUED
    assert len(callbacks) == 1
    judgments = Judgment.objects.filter(run=run)
    assert run.total == judgments.count() == 260
    assert set(judgments.values_list("status", flat=True)) == {JudgmentStatus.PENDING}
    per_pair = judgments.values_list("pair_id", "order")
    assert sorted(o for p, o in per_pair if p == per_pair[0][0]) == ["AB", "BA"]
    chunks = list(RunChunk.objects.filter(run=run).order_by("index"))
    assert [c.size for c in chunks] == [100, 100, 60]
    # The chunks cover every judgment exactly once, and both orders of a pair share a chunk.
    covered = []
    for chunk in chunks:
        ids = judgments.filter(pk__gte=chunk.first_id, pk__lte=chunk.last_id)
        assert ids.count() == chunk.size
        covered.extend(ids.values_list("pk", flat=True))
        pairs = list(ids.values_list("pair_id", flat=True))
        assert all(pairs.count(p) == 2 for p in pairs)
    assert sorted(covered) == sorted(judgments.values_list("pk", flat=True))
    assert AuditEvent.objects.filter(action="run.start", object_id=str(run.pk)).exists()


def test_start_refuses_a_bad_target_and_leaves_nothing(project: Any, other_project: Any) -> None:
    version = make_version(project)
    judge = make_judge(project)
    empty = make_reference_set(project, pairs=make_dataset(project, n_pairs=1)[1], name="one")
    empty_dataset = make_dataset(project, n_pairs=0, name="empty")[0]
    with pytest.raises(ValidationError, match="no pairs"):
        services.run_start(actor=None, rubric_version=version, judge=judge, dataset=empty_dataset)
    foreign = make_reference_set(other_project, n_pairs=2)
    with pytest.raises(ValidationError, match="another project"):
        _start(version, judge, foreign)
    draft = make_version(project, published=False)
    with pytest.raises(ValidationError, match="published"):
        _start(draft, judge, empty)
    with pytest.raises(ValidationError):
        services.run_start(actor=None, rubric_version=version, judge=judge)
    # The run row of the refused start was rolled back with its work items.
    assert not JudgingRun.objects.exists()
    assert not Judgment.objects.exists()


def test_offline_run_judges_every_item_like_the_backend_does(project: Any) -> None:
    version = make_version(project, criteria=SAFE_CRITERIA)
    reference_set = make_reference_set(project, n_pairs=60)
    judge = make_judge(project, params={"chunk_size": 50})
    run = services.run_execute(run=_start(version, judge, reference_set))

    assert run.status == RunStatus.SUCCEEDED
    assert (run.done, run.failed, run.total, run.cached) == (120, 0, 120, 0)
    assert run.started_at and run.finished_at and run.started_at <= run.finished_at
    assert set(RunChunk.objects.filter(run=run).values_list("status", flat=True)) == {"done"}
    # Every stored verdict is the backend's answer mapped to the pair's own A/B.
    backend = backend_class("offline")(BackendConfig(backend="offline"))
    spec = version.to_spec()
    for judgment in Judgment.objects.filter(run=run).select_related("pair")[:40]:
        pair = judgment.pair
        text = PairText(pair.prompt, pair.response_a, pair.response_b, pair.domain)
        request = make_request(key="k", rubric=spec, pair=text, order=judgment.order)
        (answer,) = backend.judge_batch([request])
        assert judgment.verdict == to_pair_verdict(answer.verdict, judgment.order)
        assert judgment.p_first == pytest.approx(answer.p_first)
        assert judgment.status == JudgmentStatus.DONE and judgment.cache_key
    assert run.tokens_in == sum(
        Judgment.objects.filter(run=run).values_list("tokens_in", flat=True)
    )
    # The safety criterion makes the judge right on both domains of these pairs.
    accuracy = selectors.run_accuracy(run)
    assert accuracy["overall"]["n"] == 60
    assert accuracy["by_domain"]["harmlessness"]["accuracy"] == 1.0
    assert run.summary == accuracy


def test_an_active_runs_accuracy_is_recomputed_once_per_refresh_window(project: Any) -> None:
    from django.core.cache import cache

    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=80))
    key = f"run-accuracy:{run.pk}"
    services.chunk_judge(run_id=run.pk, index=0)
    run.refresh_from_db()
    first = selectors.run_accuracy(run)
    assert run.status == RunStatus.RUNNING and 0 < first["overall"]["n"] < 80

    services.chunk_judge(run_id=run.pk, index=1)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.done == 100
    # New progress inside the window: the figures of a moment ago, not a recomputation.
    assert selectors.run_accuracy(run) == first
    # Once the window has passed (the entry made older), the next poll recomputes.
    entry = cache.get(key)
    entry["at"] -= selectors.ACCURACY_REFRESH_S + 1
    cache.set(key, entry)
    second = selectors.run_accuracy(run)
    assert first["overall"]["n"] < second["overall"]["n"] < 80

    # While another process computes, stale figures are served rather than computed again.
    services.chunk_judge(run_id=run.pk, index=2)
    run.refresh_from_db()
    entry = cache.get(key)
    entry["at"] -= selectors.ACCURACY_REFRESH_S + 1
    cache.set(key, entry)
    cache.add(f"{key}:computing", True)
    assert selectors.run_accuracy(run) == second
    cache.delete(f"{key}:computing")

    # An ended run's figures are exact at once, whatever the window.
    services.chunk_judge(run_id=run.pk, index=3)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert selectors.run_accuracy(run)["overall"]["n"] == 80


def test_a_chunk_run_twice_writes_and_counts_nothing_twice(project: Any) -> None:
    version = make_version(project)
    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(version, judge, make_reference_set(project, n_pairs=30))
    first = services.chunk_judge(run_id=run.pk, index=0)
    assert first.state == "written" and first.written == 50
    snapshot = list(Judgment.objects.filter(run=run).order_by("pk").values())
    run.refresh_from_db()
    counters = (run.done, run.tokens_in, run.cost, run.status)

    # A redelivered message: the chunk is done, so it is skipped.
    assert services.chunk_judge(run_id=run.pk, index=0).state == "skipped"
    # A duplicate that got past the claim (claim expired, chunk reset by a resume): it judges
    # again but finds no pending row to write, and counts nothing.
    RunChunk.objects.filter(run=run, index=0).update(status=ChunkStatus.PENDING)
    again = services.chunk_judge(run_id=run.pk, index=0)
    assert again.state == "written" and again.written == 0
    run.refresh_from_db()
    assert (run.done, run.tokens_in, run.cost, run.status) == counters
    assert list(Judgment.objects.filter(run=run).order_by("pk").values()) == snapshot
    assert Judgment.objects.filter(run=run).count() == 60
    services.chunk_judge(run_id=run.pk, index=1)
    run.refresh_from_db()
    assert (run.status, run.done) == (RunStatus.SUCCEEDED, 60)


def test_a_chunk_claimed_elsewhere_is_skipped_until_its_claim_expires(
    project: Any, settings: Any
) -> None:
    run = _start(make_version(project), make_judge(project), make_reference_set(project))
    RunChunk.objects.filter(run=run, index=0).update(
        status=ChunkStatus.RUNNING, claimed_at=timezone.now()
    )
    assert services.chunk_judge(run_id=run.pk, index=0).state == "skipped"
    expired = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5)
    RunChunk.objects.filter(run=run, index=0).update(claimed_at=expired)
    assert services.chunk_judge(run_id=run.pk, index=0).written == 40


def test_cache_hits_cost_nothing_and_a_criteria_change_misses(project: Any) -> None:
    v1 = make_version(project)
    rubric = v1.rubric
    v2 = make_version(project, rubric=rubric, criteria=SAFE_CRITERIA)
    dataset, pairs = make_dataset(project, n_pairs=20)
    reference = make_reference_set(project, pairs=pairs)
    judge = make_judge(project, price_in="2.50", price_out="10")

    first = services.run_execute(run=_start(v1, judge, reference))
    assert first.cached == 0 and first.cost > 0
    assert CachedJudgment.objects.count() == 40

    same = services.run_execute(run=_start(v1, judge, reference))
    assert same.status == RunStatus.SUCCEEDED
    assert (same.cached, same.tokens_in, same.cost) == (40, 0, Decimal(0))
    assert same.saved_tokens == first.tokens_in + first.tokens_out
    assert same.saved_cost == first.cost
    assert list(
        Judgment.objects.filter(run=same)
        .order_by("pair", "order")
        .values_list("verdict", "p_first")
    ) == list(
        Judgment.objects.filter(run=first)
        .order_by("pair", "order")
        .values_list("verdict", "p_first")
    )

    # A changed criterion changes every prompt: nothing is reused.
    changed = services.run_execute(run=_start(v2, judge, reference))
    assert changed.cached == 0 and changed.cost > 0

    # The same rubric on a grown snapshot pays only for the new pairs.
    _, more = make_dataset(project, n_pairs=10, start=20, dataset=dataset)
    grown = make_reference_set(project, pairs=[*pairs, *more])
    extended = services.run_execute(run=_start(v1, judge, grown))
    assert (extended.cached, extended.done) == (40, 60)
    assert extended.cost == pytest.approx(first.cost / 2, rel=Decimal("0.2"))

    # A repeat run that must ask again (noise floor) reads no cached answer.
    repeat = services.run_execute(run=_start(v1, judge, reference, use_cache=False))
    assert repeat.cached == 0 and repeat.tokens_in == first.tokens_in


def test_cancel_stops_chunks_not_started_and_keeps_finished_judgments(
    project: Any, members: dict[str, Any]
) -> None:
    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=75))
    services.chunk_judge(run_id=run.pk, index=0)
    services.run_cancel(actor=members["author"], run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.cancel_requested and run.finished_at
    # A chunk task that starts after the cancel does nothing.
    assert services.chunk_judge(run_id=run.pk, index=1).state == "stopped"
    run.refresh_from_db()
    assert run.done == 50
    assert Judgment.objects.filter(run=run, status=JudgmentStatus.DONE).count() == 50
    assert Judgment.objects.filter(run=run, status=JudgmentStatus.PENDING).count() == 100
    assert AuditEvent.objects.filter(action="run.cancel", object_id=str(run.pk)).exists()
    with pytest.raises(services.RunNotActive):
        services.run_cancel(actor=members["author"], run=run)
    with pytest.raises(services.RunNotActive):
        services.run_resume(run=run)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_chunk_that_keeps_failing_is_retried_then_given_up_and_the_run_ends_partial(
    project: Any, fake_server: Any
) -> None:
    from apps.judging import tasks

    judge = make_judge(
        project,
        backend="openai",
        model="fake-judge",
        base_url=f"http://127.0.0.1:{_closed_port()}/v1",
        params={"chunk_size": 50, "max_attempts": 1},
    )
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=50))
    # The endpoint is down: the chunk task raises, is retried three times, then gives up.
    tasks.judge_chunk_api.delay(run.pk, 0)
    chunk = RunChunk.objects.get(run=run, index=0)
    assert chunk.status == ChunkStatus.FAILED and chunk.attempts == 4
    assert "EndpointUnreachable" in chunk.error
    run.refresh_from_db()
    assert (run.status, run.done, run.failed) == (RunStatus.RUNNING, 0, 50)
    # The endpoint is fixed (the config changes, so workers build a new backend).
    judge.base_url = fake_server.base_url
    judge.save()
    tasks.judge_chunk_api.delay(run.pk, 1)
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIAL and (run.done, run.failed) == (50, 50)
    assert "50 of 100 judgments failed" in run.error
    failed = Judgment.objects.filter(run=run, status=JudgmentStatus.FAILED)
    assert failed.count() == 50 and set(failed.values_list("verdict", flat=True)) == {"invalid"}
    failures = selectors.run_failures(run)
    assert failures.count == 50 and "EndpointUnreachable" in failures.reasons[0][0]


def test_requests_that_never_reach_the_judge_fail_and_the_run_ends_partial(
    project: Any, fake_server: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.fake_openai_server import FaultRule

    dataset, bad = make_dataset(project, n_pairs=5, marker=" FAILME")
    _, good = make_dataset(project, n_pairs=20, start=5, dataset=dataset)
    reference = make_reference_set(project, pairs=[*bad, *good])
    judge = make_judge(
        project,
        backend="openai",
        model="fake-judge",
        base_url=fake_server.base_url,
        params={"max_attempts": 2, "backoff_base_s": 0.01, "backoff_cap_s": 0.02},
    )
    fake_server.configure(rules=(FaultRule(contains="FAILME", faults=("500",) * 1000),))
    with django_capture_on_commit_callbacks(execute=True):
        run = _start(make_version(project), judge, reference, dispatch=True)
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIAL
    assert (run.done, run.failed) == (40, 10)
    failed = Judgment.objects.filter(run=run, status=JudgmentStatus.FAILED)
    assert set(failed.values_list("pair_id", flat=True)) == {p.pk for p in bad}
    assert all(j.attempts == 2 and "HTTP 500" in j.error for j in failed)
    failures = selectors.run_failures(run)
    assert failures.count == 10 and "HTTP 500" in failures.reasons[0][0]
    outcomes = selectors.run_pair_outcomes(run)
    assert {r["verdict"] for r in outcomes if r["pair_id"] in {p.pk for p in bad}} == {"invalid"}
    # Failed answers are not cached; good ones are.
    assert CachedJudgment.objects.count() == 40


def test_openai_run_end_to_end_against_the_fake_server(
    project: Any, fake_server: Any, django_capture_on_commit_callbacks: Any
) -> None:
    fake_server.configure(script=("429", "500", "ok", "503"), retry_after_s=0.05)
    judge = make_judge(
        project,
        backend="openai",
        model="fake-judge",
        base_url=fake_server.base_url,
        params={"chunk_size": 50, "backoff_base_s": 0.01, "backoff_cap_s": 0.05},
        price_in="1",
        price_out="4",
        concurrency=16,
    )
    reference = make_reference_set(project, n_pairs=40)
    with django_capture_on_commit_callbacks(execute=True):
        run = _start(make_version(project), judge, reference, dispatch=True)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.done, run.failed) == (80, 0)
    stats = fake_server.stats()
    assert stats.counts["429"] == 1 and stats.counts["500"] == 1 and stats.counts["503"] == 1
    judgments = Judgment.objects.filter(run=run)
    assert judgments.filter(attempts__gt=1).count() == 3
    assert set(judgments.values_list("verdict", flat=True)) <= {"A", "B", "tie"}
    assert judgments.exclude(p_first=None).count() == 80  # the server gives log-probabilities
    tokens_in = sum(judgments.values_list("tokens_in", flat=True))
    tokens_out = sum(judgments.values_list("tokens_out", flat=True))
    assert run.tokens_in == tokens_in > 0 and run.tokens_out == tokens_out > 0
    assert run.cost == (Decimal(tokens_in) * 1 + Decimal(tokens_out) * 4) / Decimal(1_000_000)
    # The pair verdict and p_a come from both orders.
    row = selectors.run_pair_outcomes(run)[0]
    ab = judgments.get(pair_id=row["pair_id"], order="AB")
    ba = judgments.get(pair_id=row["pair_id"], order="BA")
    expected = aggregate_pair(ab.verdict, ba.verdict, ab.p_first, ba.p_first)
    assert (row["verdict"], row["consistent"]) == (expected.verdict, expected.consistent)
    assert row["p_a"] == pytest.approx(expected.p_a)


def test_backend_instances_are_cached_per_judge_until_it_changes(project: Any) -> None:
    judge = make_judge(project)
    first = services.judge_backend(judge)
    assert services.judge_backend(judge) is first
    judge.params = {"position_bias": 0.1}
    judge.save()
    second = services.judge_backend(judge)
    assert second is not first and second.config.params == {"position_bias": 0.1}


def test_resume_redispatches_only_what_is_pending(
    project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=75))
    services.chunk_judge(run_id=run.pk, index=0)
    # A worker died holding chunk 1: its claim has not been beaten for longer than the window.
    silent = timezone.now() - timedelta(seconds=settings.LIVENESS_STALE_AFTER_S + 1)
    RunChunk.objects.filter(run=run, index=1).update(status=ChunkStatus.RUNNING, claimed_at=silent)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.run_resume(run=run) == 2
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 150
    assert Judgment.objects.filter(run=run).count() == 150


def test_resume_leaves_a_chunk_whose_worker_still_beats_its_claim(
    project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=75))
    # Chunk 1 is at work: its claim was beaten just now.
    RunChunk.objects.filter(run=run, index=1).update(
        status=ChunkStatus.RUNNING, claimed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.run_resume(run=run, actor=None) == 2
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.done == 100
    assert RunChunk.objects.get(run=run, index=1).status == ChunkStatus.RUNNING
    assert Judgment.objects.filter(run=run, status=JudgmentStatus.PENDING).count() == 50


def test_sweep_resumes_stale_runs_and_fails_hopeless_ones(
    project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    judge = make_judge(project)
    version = make_version(project)
    stale = _start(version, judge, make_reference_set(project, n_pairs=10, name="a"))
    hopeless = _start(version, judge, make_reference_set(project, n_pairs=10, name="b"))
    fresh = _start(version, judge, make_reference_set(project, n_pairs=10, name="c"))
    old = timezone.now() - timedelta(hours=2)
    JudgingRun.objects.filter(pk__in=[stale.pk, hopeless.pk]).update(heartbeat_at=old)
    JudgingRun.objects.filter(pk=hopeless.pk).update(resumes=3)

    with django_capture_on_commit_callbacks(execute=True):
        # The beat task, with the default thresholds (the stale window, 3 tries). Tasks run
        # eagerly here, so the runs' queue has a consumer: this process.
        outcomes = sweep_stale_work.delay().get()
    assert set(outcomes) == {"judging", "drift", "redteam"}
    outcome = outcomes["judging"]
    assert outcome == {
        "released": [],
        "resumed": [stale.pk],
        "waiting": [],
        "failed": [hopeless.pk],
    }
    stale.refresh_from_db()
    hopeless.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == RunStatus.SUCCEEDED and stale.resumes == 0
    assert hopeless.status == RunStatus.FAILED and "resumes" in hopeless.error
    assert hopeless.failed == hopeless.total == 20
    assert fresh.status == RunStatus.QUEUED


def test_pair_outcomes_and_accuracy_read_a_run_in_a_few_queries(
    project: Any, django_assert_max_num_queries: Any
) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=40)
    run = services.run_execute(run=_start(version, make_judge(project), reference))
    with django_assert_max_num_queries(2):
        rows = selectors.run_pair_outcomes(run)
    assert len(rows) == 40
    row = rows[0]
    assert set(row) >= {
        "pair_id",
        "domain",
        "prompt_hash",
        "gold",
        "verdict",
        "consistent",
        "p_a",
        "len_a",
        "len_b",
        "refuses_a",
        "refuses_b",
        "rationale_ab",
    }
    harmless = [r for r in rows if r["domain"] == "harmlessness"]
    assert all(r["refuses_a"] != r["refuses_b"] for r in harmless)
    assert all(r["len_a"] > 0 and len(r["prompt_hash"]) == 16 for r in rows)
    expected = accuracy_summary(
        (r["domain"], r["gold"], r["verdict"], r["consistent"]) for r in rows
    )
    assert selectors.run_accuracy_compute(run) == expected
    # Helpfulness-only rubric: right on helpfulness, wrong where the helpful answer is harmful.
    assert expected["by_domain"]["helpfulness"]["accuracy"] == 1.0
    assert expected["by_domain"]["harmlessness"]["accuracy"] < 0.5


def test_progress_throughput_and_eta(project: Any) -> None:
    run = _start(make_version(project), make_judge(project), make_reference_set(project))
    now = timezone.now()
    JudgingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=now - timedelta(seconds=10), done=10
    )
    run.refresh_from_db()
    progress = selectors.run_progress(run)
    assert progress.percent == 25.0
    assert progress.throughput == pytest.approx(1.0, rel=0.05)
    assert progress.eta_s == pytest.approx(30, rel=0.05)


def test_cost_estimate_counts_both_orders_and_prices_tokens(project: Any) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=30)
    judge = make_judge(project, backend="openai", model="m", price_in="3", price_out="15")
    judge.params = {"max_tokens": 8}
    estimate = selectors.run_estimate(rubric_version=version, judge=judge, reference_set=reference)
    assert (estimate.pairs, estimate.judgments) == (30, 60)
    assert estimate.tokens_out == 60 * 8
    spec = version.to_spec()
    from apps.judging.prompting import estimate_messages_tokens, render_messages

    pairs = [item.pair for item in reference.items.select_related("pair")]
    exact = sum(
        estimate_messages_tokens(
            render_messages(spec, PairText(p.prompt, p.response_a, p.response_b), order)
        )
        for p in pairs
        for order in ("AB", "BA")
    )
    assert estimate.tokens_in == pytest.approx(exact, rel=0.02)
    expected = (Decimal(estimate.tokens_in) * 3 + Decimal(estimate.tokens_out) * 15) / 10**6
    assert estimate.cost == expected.quantize(Decimal("0.000001"))
    assert estimate.priced and not estimate.is_demo


def test_judge_config_refuses_keys(project: Any, settings: Any) -> None:
    settings.RUBRICSTUDIO_JUDGE_KEYS = {"MY_KEY": ("https://api.openai.com/v1",)}
    with pytest.raises(ValidationError) as refused:
        services.judge_config_create(
            actor=None,
            project=project,
            name="j",
            backend="openai",
            model="gpt",
            api_key_env="sk-not-a-name",
            params={"api_key": "sk-123"},
        )
    assert set(refused.value.message_dict) == {"api_key_env", "params"}
    judge = services.judge_config_create(
        actor=None, project=project, name="j", backend="openai", model="gpt", api_key_env="MY_KEY"
    )
    assert judge.api_key_env == "MY_KEY"
    assert services.judge_label(make_judge(project, name="demo")) == "demo (demo/test judge)"


@pytest.mark.django_db(transaction=True)
def test_start_is_one_transaction_with_its_dispatch(project: Any) -> None:
    """Inside an outer transaction that rolls back, neither the run nor a dispatch survives."""
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=5)
    judge = make_judge(project)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.run_start(actor=None, rubric_version=version, judge=judge, reference_set=reference)
        assert Judgment.objects.count() == 10
        raise Abort
    assert not JudgingRun.objects.exists() and not Judgment.objects.exists()
    # Without the abort the commit dispatches the chunks (eager here) and the run finishes.
    run = services.run_start(
        actor=None, rubric_version=version, judge=judge, reference_set=reference
    )
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 10


def test_sweep_sends_again_a_chunk_whose_claim_went_silent_while_its_run_still_beats(
    project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=75))
    silent = timezone.now() - timedelta(seconds=settings.LIVENESS_STALE_AFTER_S + 1)
    # Chunk 0's worker died; chunk 1 is still at work and beats the run's heartbeat.
    RunChunk.objects.filter(run=run, index=0).update(
        status=ChunkStatus.RUNNING, claimed_at=silent, attempts=1
    )
    RunChunk.objects.filter(run=run, index=1).update(
        status=ChunkStatus.RUNNING, claimed_at=timezone.now(), attempts=1
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outcome = services.runs_sweep_orphaned()
    assert outcome == {"released": [run.pk], "resumed": [], "waiting": [], "failed": []}
    assert len(callbacks) == 1
    chunks = dict(RunChunk.objects.filter(run=run).values_list("index", "status"))
    assert chunks == {0: ChunkStatus.DONE, 1: ChunkStatus.RUNNING, 2: ChunkStatus.PENDING}
    assert RunChunk.objects.get(run=run, index=0).attempts == 2
    run.refresh_from_db()
    assert (run.status, run.done) == (RunStatus.RUNNING, 50)


def test_sweep_gives_up_a_chunk_whose_worker_keeps_dying(
    project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    judge = make_judge(project, params={"chunk_size": 50})
    run = _start(make_version(project), judge, make_reference_set(project, n_pairs=25))
    silent = timezone.now() - timedelta(seconds=settings.LIVENESS_STALE_AFTER_S + 1)
    claims = tasks.MAX_RETRIES + 1 + settings.JUDGING_MAX_RESUMES
    RunChunk.objects.filter(run=run, index=0).update(
        status=ChunkStatus.RUNNING, claimed_at=silent, attempts=claims
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.runs_sweep_orphaned()
    assert outcome["released"] == [] and outcome["failed"] == []
    run.refresh_from_db()
    chunk = RunChunk.objects.get(run=run, index=0)
    assert chunk.status == ChunkStatus.FAILED and f"lost {claims} times" in chunk.error
    assert (run.status, run.failed, run.done) == (RunStatus.FAILED, 50, 0)


def test_judging_outside_a_run_asks_once_per_distinct_request_and_then_only_the_cache(
    project: Any,
) -> None:
    judge = make_judge(project)
    spec = make_version(project).to_spec()
    pair = PairText(prompt="Say hi", response_a="Hi!", response_b="No.", domain="chat")
    items = [("first", pair, "AB"), ("again", pair, "AB"), ("other", pair, "BA")]

    plan = services.cache_plan(
        judge=judge, items=[(key, spec, text, order) for key, text, order in items]
    )
    assert plan.calls_needed == 2 and plan.missing == [0, 2]
    answers = services.judge_texts_cached(judge=judge, spec=spec, items=items)
    assert [(a.key, a.cached) for a in answers] == [
        ("first", False),
        ("again", True),
        ("other", False),
    ]
    assert answers[0].verdict == answers[1].verdict
    assert CachedJudgment.objects.count() == 2

    repeat = services.judge_texts_cached(judge=judge, spec=spec, items=items)
    assert all(a.cached for a in repeat)
    assert [a.verdict for a in repeat] == [a.verdict for a in answers]
