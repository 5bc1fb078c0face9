"""The ``openai`` backend against a real HTTP server on loopback, through the real SDK.

Every test talks HTTP to ``tests.fake_openai_server``; faults are scripted so each test knows
exactly what the server will do. Timing assertions are lower bounds only (a retry waited at
least as long as the server asked), never upper bounds.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from apps.judging.backends.base import BackendConfig, backend_class
from apps.judging.backends.openai_backend import (
    EndpointUnreachable,
    OpenAIBackend,
    RetryPolicy,
    parse_retry_after,
    verdict_position_logprobs,
)
from apps.judging.types import JudgeRequest
from tests.fake_openai_server import REFUSAL_TEXT, FakeOpenAIServer, FaultRule, standalone_server

REPO = Path(__file__).resolve().parents[2]
MakeRequests = Callable[..., list[JudgeRequest]]

# Short backoff so failing paths finish quickly; Retry-After still sets the floor.
FAST: dict[str, object] = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 5.0}


@pytest.fixture(autouse=True, params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs over both of the SDK's HTTP transports (faults surface differently)."""
    if request.param == "aiohttp":
        pytest.importorskip("aiohttp", reason="openai[aiohttp] is not installed")
    monkeypatch.setitem(FAST, "http_client", request.param)
    return str(request.param)


def backend_for(
    server: FakeOpenAIServer, *, concurrency: int = 8, **params: object
) -> OpenAIBackend:
    config = BackendConfig(
        backend="openai",
        model="judge-model",
        base_url=server.base_url,
        api_key="sk-test-not-a-real-key",
        concurrency=concurrency,
        params={**FAST, **params},
    )
    backend = backend_class("openai")(config)
    assert isinstance(backend, OpenAIBackend)
    return backend


def arrivals(server: FakeOpenAIServer) -> list[float]:
    return [record.t for record in server.stats().log]


# -- happy path ------------------------------------------------------------------------------


def test_verdicts_follow_the_server_and_p_first_comes_from_logprobs(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    requests = make_requests(12)
    fake_server.configure(confidence=0.9)
    results = backend_for(fake_server).judge_batch(requests)

    assert [r.key for r in results] == [r.key for r in requests]
    expected = {"A": "first", "B": "second", "C": "tie"}
    for request, result in zip(requests, results, strict=True):
        letter = fake_server._verdict_letter(list(request.messages), fake_server.config)
        assert result.verdict == expected[letter], result
        assert result.raw_output == f"[[{letter}]]"
        assert result.p_first is not None
        if letter == "A":
            assert result.p_first > 0.85
        elif letter == "B":
            assert result.p_first < 0.15
        else:
            assert 0.3 < result.p_first < 0.7
        assert result.attempts == 1
        assert result.error == ""
        assert result.tokens_in > 0 and result.tokens_out > 0
        assert result.extra["logprobs"] is True
    stats = fake_server.stats()
    assert stats.counts["ok"] == len(requests)
    assert all(record.asked_logprobs for record in stats.log)


def test_fixed_verdict_b_is_second_with_low_p_first(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(verdict="B", confidence=0.7)
    results = backend_for(fake_server).judge_batch(make_requests(4))
    assert {r.verdict for r in results} == {"second"}
    assert all(r.p_first is not None and r.p_first < 0.3 for r in results)


def test_without_logprobs_the_verdict_is_parsed_from_text(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(logprobs="ignored", verdict="A")
    results = backend_for(fake_server).judge_batch(make_requests(4))
    assert {r.verdict for r in results} == {"first"}
    assert all(r.p_first is None for r in results)


def test_logprobs_switched_off_by_params_are_not_requested(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    results = backend_for(fake_server, logprobs=False).judge_batch(make_requests(3))
    assert all(r.verdict != "invalid" and r.p_first is None for r in results)
    assert not any(record.asked_logprobs for record in fake_server.stats().log)


def test_server_rejecting_logprobs_is_asked_again_without_and_remembered(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(logprobs="rejected", verdict="B")
    backend = backend_for(fake_server, concurrency=1)
    first = backend.judge_batch(make_requests(1))
    assert first[0].verdict == "second"
    assert first[0].attempts == 2
    assert "logprobs" in first[0].extra["retry_errors"][0]
    assert backend.logprobs_supported is False
    assert fake_server.stats().counts["rejected_logprobs"] == 1

    fake_server.reset_stats()
    later = backend.judge_batch(make_requests(4))
    assert {r.verdict for r in later} == {"second"}
    stats = fake_server.stats()
    assert stats.counts["rejected_logprobs"] == 0
    assert not any(record.asked_logprobs for record in stats.log)


# -- retries ---------------------------------------------------------------------------------


def test_429_retry_waits_at_least_retry_after_seconds(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(script=("429", "ok"), retry_after_s=0.6)
    [result] = backend_for(fake_server).judge_batch(make_requests(1))
    assert result.verdict != "invalid"
    assert result.attempts == 2
    assert "HTTP 429" in result.extra["retry_errors"][0]
    t_429, t_ok = arrivals(fake_server)
    assert t_ok - t_429 >= 0.6
    assert fake_server.stats().counts == {"429": 1, "ok": 1}


def test_429_retry_after_as_http_date_is_honoured(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(script=("429", "ok"), retry_after_s=1.0, retry_after_format="date")
    [result] = backend_for(fake_server).judge_batch(make_requests(1))
    assert result.verdict != "invalid" and result.attempts == 2
    t_429, t_ok = arrivals(fake_server)
    # The date has one-second resolution and the server rounds it up past one second.
    assert t_ok - t_429 >= 0.95


def test_retry_after_pauses_the_other_requests_too(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    requests = make_requests(2, orders=("AB",))
    marker = "(case 0)"
    fake_server.configure(
        latency_s=0.05,
        rules=(FaultRule(contains=marker, faults=("429",)),),
        retry_after_s=0.5,
    )
    # One slot: the second request starts only after the first one's 429 came back.
    results = backend_for(fake_server, concurrency=1).judge_batch(requests)
    assert all(r.verdict != "invalid" for r in results)
    log = fake_server.stats().log
    assert [record.kind for record in log] == ["429", "ok", "ok"]
    assert log[1].t - log[0].t >= 0.5 and log[2].t - log[0].t >= 0.5


def test_500_then_success(fake_server: FakeOpenAIServer, make_requests: MakeRequests) -> None:
    fake_server.configure(script=("500", "503", "ok"), verdict="A")
    [result] = backend_for(fake_server).judge_batch(make_requests(1))
    assert result.verdict == "first"
    assert result.attempts == 3
    assert [e.split(":")[0] for e in result.extra["retry_errors"]] == ["HTTP 500", "HTTP 503"]


def test_timeouts_are_retried_then_invalid_after_max_attempts(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(fault_probabilities={"hang": 1.0}, hang_s=30)
    started = time.monotonic()
    [result] = backend_for(fake_server, timeout_s=0.3, max_attempts=3).judge_batch(make_requests(1))
    assert result.verdict == "invalid"
    assert result.attempts == 3
    assert "timed out" in result.error and "gave up after 3 attempts" in result.error
    assert fake_server.stats().counts["hang"] == 3
    # Each attempt waited for its whole timeout before giving up on it.
    assert time.monotonic() - started >= 3 * 0.3


def test_timeout_then_success(fake_server: FakeOpenAIServer, make_requests: MakeRequests) -> None:
    fake_server.configure(script=("hang", "ok"), hang_s=30, verdict="B")
    # Long enough that the answered attempt never times out on a busy machine.
    [result] = backend_for(fake_server, timeout_s=1.0).judge_batch(make_requests(1))
    assert result.verdict == "second" and result.attempts == 2


def test_truncated_body_is_retried(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(script=("truncated", "ok"), verdict="A")
    [result] = backend_for(fake_server).judge_batch(make_requests(1))
    assert result.verdict == "first" and result.attempts == 2
    assert "connection error" in result.extra["retry_errors"][0]


def test_always_truncated_ends_invalid_without_raising(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(fault_probabilities={"truncated": 1.0})
    results = backend_for(fake_server, max_attempts=2).judge_batch(make_requests(2))
    assert all(r.verdict == "invalid" and r.attempts == 2 for r in results)
    assert all("gave up after 2 attempts" in r.error for r in results)


@pytest.mark.parametrize("fault", ["nonjson", "badjson"])
def test_non_json_body_is_retried(
    fault: str, fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(script=(fault, "ok"), verdict="C")
    [result] = backend_for(fake_server).judge_batch(make_requests(1))
    assert result.verdict == "tie" and result.attempts == 2
    assert result.extra["retry_errors"][0].startswith("malformed response")


def test_always_non_json_keeps_the_body_as_raw_output(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(fault_probabilities={"nonjson": 1.0})
    [result] = backend_for(fake_server, max_attempts=2).judge_batch(make_requests(1))
    assert result.verdict == "invalid"
    assert "malformed response" in result.error
    assert "502 Bad Gateway" in result.raw_output


def test_refusal_is_invalid_with_the_raw_text_and_not_retried(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(script=("refusal",))
    [result] = backend_for(fake_server).judge_batch(make_requests(1))
    assert result.verdict == "invalid"
    assert result.raw_output == REFUSAL_TEXT
    assert result.error == "no verdict in the answer"
    assert result.attempts == 1
    assert result.p_first is None


def test_answer_cut_at_max_tokens_is_invalid(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    [result] = backend_for(fake_server, max_tokens=1).judge_batch(make_requests(1))
    assert result.verdict == "invalid"
    assert result.raw_output == "[["
    assert "max_tokens" in result.error


def test_one_failing_request_does_not_affect_the_others(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    requests = make_requests(6)
    fake_server.configure(rules=(FaultRule(contains="(case 1)", faults=("500",) * 10),))
    results = backend_for(fake_server, max_attempts=2).judge_batch(requests)
    bad = {r.key for r in results if r.verdict == "invalid"}
    assert bad == {"pair-1:AB", "pair-1:BA"}
    assert all("HTTP 500" in r.error for r in results if r.key in bad)


def test_unreachable_endpoint_raises_for_the_whole_batch(make_requests: MakeRequests) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = BackendConfig(
        backend="openai",
        model="m",
        base_url=f"http://127.0.0.1:{port}/v1",
        params={**FAST, "max_attempts": 2},
    )
    with pytest.raises(EndpointUnreachable):
        OpenAIBackend(config).judge_batch(make_requests(2))


# -- reasoned mode ---------------------------------------------------------------------------


def test_reasoned_mode_asks_for_json_and_parses_it(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(verdict="B")
    results = backend_for(fake_server).judge_batch(make_requests(4, mode="reasoned"))
    for result in results:
        assert result.verdict == "second"
        assert result.rationale == "The second response answers the question more fully."
        assert result.raw_output.startswith("{")
        assert result.p_first is not None and result.p_first < 0.5
    assert all(record.asked_json for record in fake_server.stats().log)


def test_reasoned_mode_without_json_mode_support_falls_back(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(verdict="C", response_format="rejected", logprobs="ignored")
    backend = backend_for(fake_server, concurrency=1)
    results = backend.judge_batch(make_requests(2, mode="reasoned"))
    assert [r.verdict for r in results] == ["tie", "tie"]
    assert results[0].attempts == 2 and results[1].attempts == 1
    assert backend.json_mode_supported is False
    assert fake_server.stats().counts["rejected_response_format"] == 1


# -- concurrency, pacing, secrets ------------------------------------------------------------


def test_requests_run_concurrently_up_to_the_limit(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    fake_server.configure(latency_s=0.1)
    results = backend_for(fake_server, concurrency=4).judge_batch(make_requests(24))
    assert all(r.verdict != "invalid" for r in results)
    stats = fake_server.stats()
    assert 1 < stats.max_in_flight <= 4
    assert stats.total == 24


def test_requests_per_minute_spaces_request_starts(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    config = BackendConfig(
        backend="openai",
        model="m",
        base_url=fake_server.base_url,
        concurrency=8,
        requests_per_minute=600,  # one every 0.1 s
        params=FAST,
    )
    started = time.monotonic()
    results = OpenAIBackend(config).judge_batch(make_requests(5))
    # The fifth request may not start before four intervals have passed (unpaced, the batch
    # takes a few milliseconds against a server without latency).
    assert time.monotonic() - started >= 4 * 0.1
    assert all(r.verdict != "invalid" for r in results)
    assert fake_server.stats().total == 5


def test_works_when_called_from_inside_an_event_loop(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests
) -> None:
    backend = backend_for(fake_server)

    async def caller() -> list[str]:
        return [r.verdict for r in backend.judge_batch(make_requests(2))]

    assert all(v != "invalid" for v in asyncio.run(caller()))


def test_api_key_never_appears_in_results_or_logs(
    fake_server: FakeOpenAIServer, make_requests: MakeRequests, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-0123456789abcdef"
    fake_server.configure(script=("429", "500", "refusal"), retry_after_s=0.01)
    config = BackendConfig(
        backend="openai",
        model="m",
        base_url=fake_server.base_url,
        api_key=secret,
        params={**FAST, "max_attempts": 2},
    )
    with caplog.at_level(logging.DEBUG):
        results = OpenAIBackend(config).judge_batch(make_requests(2))
    assert secret not in repr(results)
    assert secret not in caplog.text
    assert any(r.verdict == "invalid" for r in results)


# -- pure helpers ----------------------------------------------------------------------------


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    assert (
        parse_retry_after({"retry-after": email.utils.formatdate(now - 5, usegmt=True)}, now=now)
        == 0.0
    )
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-1"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None


def test_backoff_is_full_jitter_under_the_cap_and_never_below_retry_after() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=5.0)
    rng = random.Random(7)
    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)):
        delays = [policy.delay(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter: the whole window is used, not only its top.
        assert min(delays) < 0.25 * ceiling and max(delays) > 0.75 * ceiling
    assert all(policy.delay(1, 3.0, rng) >= 3.0 for _ in range(50))


def test_verdict_position_is_found_whatever_the_tokenisation() -> None:
    alternatives = [("B", -0.1), ("A", -2.5)]
    assert (
        verdict_position_logprobs([("[[", -0.01, []), ("B", -0.1, alternatives), ("]]", 0.0, [])])
        == alternatives
    )
    assert (
        verdict_position_logprobs([("I pick ", -1, []), ("[[B", -0.1, alternatives), ("]]", 0, [])])
        == alternatives
    )
    json_tokens = [('{"verdict": "', -0.1, []), ("B", -0.1, alternatives), ('"}', 0.0, [])]
    assert verdict_position_logprobs(json_tokens) == alternatives
    # The last marker counts (as in parsing.parse_verdict), and prose letters do not.
    late = [
        ("A", -1.0, [("A", -1.0), ("B", -2.0)]),
        (" then [[", 0, []),
        ("B", -0.1, alternatives),
        ("]]", 0, []),
    ]
    assert verdict_position_logprobs(late) == alternatives
    assert verdict_position_logprobs([("no verdict", 0.0, [("no", 0.0), ("x", -1.0)])]) is None
    # A single alternative says nothing about the other letters.
    assert (
        verdict_position_logprobs([("[[", 0, []), ("A", -0.1, [("A", -0.1)]), ("]]", 0, [])])
        is None
    )


# -- the server on its own -------------------------------------------------------------------


def test_fake_server_runs_standalone_from_the_command_line() -> None:
    with standalone_server("--verdict", "A") as (base_url, _):
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        # The answer format must be in the request: without it the server answers off-format.
        messages = [{"role": "user", "content": "Judge; answer [[A]] or [[B]]."}]
        body = {"model": "m", "messages": messages}
        answer = httpx.post(f"{base_url}/chat/completions", json=body, timeout=10).json()
        assert answer["choices"][0]["message"]["content"] == "[[A]]"
        stats = httpx.get(base_url.removesuffix("/v1") + "/_stats", timeout=10).json()
        assert stats["counts"] == {"ok": 1}
