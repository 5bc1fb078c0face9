"""Prompt layouts, constrained and one-token verdicts, honest timing, and the mostly-invalid run.

Backends talk real HTTP to ``tests.fake_openai_server`` through the real openai SDK; runs use
the real database. Timing assertions are lower bounds that the server's own sleeps guarantee,
or comparisons between two measured values, never thresholds.
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.judging import services
from apps.judging.backends.base import BackendConfig, backend_class
from apps.judging.models import Judgment, RunStatus
from apps.judging.options import judge_options, option_errors
from apps.judging.prompting import apply_layout, render_messages
from apps.judging.types import JudgeRequest, PairText
from tests.factories import make_judge, make_reference_set, make_version
from tests.fake_openai_server import FakeOpenAIServer
from tests.judging.conftest import RUBRIC

FAST: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "http_client": "httpx"}


def judge_requests(requests: list[JudgeRequest], server: FakeOpenAIServer, **params: Any) -> Any:
    concurrency = int(params.pop("concurrency", 8))
    config = BackendConfig(
        backend="openai",
        model="fake-judge",
        base_url=server.base_url,
        concurrency=concurrency,
        params={**FAST, **params},
    )
    return backend_class("openai")(config).judge_batch(requests)


# -- layouts ---------------------------------------------------------------------------------


def test_merged_layout_puts_the_system_text_first_in_the_user_turn() -> None:
    pair = PairText(prompt="Say hi.", response_a="Hi.", response_b="Hello there.")
    system_layout = render_messages(RUBRIC, pair, "AB")
    merged = render_messages(RUBRIC, pair, "AB", layout="merged")
    assert [m["role"] for m in system_layout] == ["system", "user"]
    assert [m["role"] for m in merged] == ["user"]
    assert (
        merged[0]["content"] == system_layout[0]["content"] + "\n\n" + system_layout[1]["content"]
    )
    # A layout without a system message is left as it is; an unknown layout is refused.
    assert apply_layout(merged, "merged") == merged
    with pytest.raises(ValueError, match="unknown prompt layout"):
        apply_layout(merged, "sideways")


def test_one_token_prompts_ask_for_a_bare_letter() -> None:
    pair = PairText(prompt="p", response_a="a", response_b="b")
    system = render_messages(RUBRIC, pair, "AB", one_token=True)[0]["content"]
    assert "exactly one capital letter" in system and "[[A]]" not in system


def test_option_errors_name_the_option() -> None:
    assert option_errors({}) == []
    errors = option_errors(
        {"prompt_layout": "x", "constrain": "regex", "one_token": "yes", "mode": "verdict"}
    )
    assert [e.split(" ")[0] for e in errors] == ["prompt_layout", "constrain", "one_token"]
    assert option_errors({"one_token": True, "mode": "reasoned"}) == [
        "one_token reads a bare verdict letter: it needs mode verdict."
    ]
    assert judge_options({"prompt_layout": "x"}).layout == "system"


def test_merged_layout_reaches_the_server_without_a_system_message(
    fake_server: FakeOpenAIServer, make_requests: Any
) -> None:
    fake_server.configure(system_role="dropped")
    requests = make_requests(4)
    dropped = judge_requests(requests, fake_server)
    assert {r.verdict for r in dropped} == {"invalid"}
    merged = [
        JudgeRequest(
            key=r.key,
            order=r.order,
            messages=apply_layout(r.messages, "merged"),
            rubric=r.rubric,
            prompt=r.prompt,
            first=r.first,
            second=r.second,
        )
        for r in requests
    ]
    answers = judge_requests(merged, fake_server)
    assert all(r.verdict != "invalid" for r in answers)
    assert {r.roles for r in fake_server.stats().log[-4:]} == {("user",)}


# -- constrained and one-token verdicts ------------------------------------------------------


@pytest.mark.parametrize(
    ("constrain", "server_option"),
    [("json_schema", "json_schema"), ("grammar", "grammar"), ("guided_choice", "guided_choice")],
)
def test_constrained_verdicts_record_how_they_were_obtained(
    fake_server: FakeOpenAIServer, make_requests: Any, constrain: str, server_option: str
) -> None:
    fake_server.configure(reply="offformat", **{server_option: "supported"})
    results = judge_requests(make_requests(4), fake_server, constrain=constrain)
    assert all(r.verdict != "invalid" for r in results), [r.error for r in results]
    assert {r.verdict_source for r in results} == {constrain}


def test_a_refused_constraint_falls_back_to_free_text_once(
    fake_server: FakeOpenAIServer, make_requests: Any
) -> None:
    fake_server.configure(json_schema="rejected")
    results = judge_requests(make_requests(6), fake_server, constrain="json_schema", concurrency=1)
    assert all(r.verdict != "invalid" for r in results)
    assert {r.verdict_source for r in results} == {"text"}
    # The first 400 names the option: it is dropped for every later request of the backend.
    assert fake_server.stats().counts["rejected_json_schema"] == 1
    assert "retrying without constrained output" in results[0].extra["retry_errors"][0]


def test_one_token_verdicts_come_from_the_first_tokens_logprobs(
    fake_server: FakeOpenAIServer, make_requests: Any
) -> None:
    requests = [
        JudgeRequest(
            key=r.key,
            order=r.order,
            messages=render_messages(
                RUBRIC,
                PairText(prompt=r.prompt, response_a=r.first, response_b=r.second),
                "AB",
                one_token=True,
            ),
            rubric=r.rubric,
            prompt=r.prompt,
            first=r.first,
            second=r.second,
        )
        for r in make_requests(4)
    ]
    results = judge_requests(requests, fake_server, one_token=True)
    assert all(r.verdict != "invalid" for r in results)
    assert {r.verdict_source for r in results} == {"logprobs"}
    assert all(r.p_first is not None for r in results)
    assert {r.max_tokens for r in fake_server.stats().log} == {1}

    # Without log-probabilities the single letter is read as text.
    fake_server.configure(logprobs="rejected")
    fallback = judge_requests(requests, fake_server, one_token=True)
    assert all(r.verdict != "invalid" for r in fallback)
    assert {r.verdict_source for r in fallback} == {"text"}
    assert all(r.p_first is None for r in fallback)


# -- timing ----------------------------------------------------------------------------------


def test_latency_is_the_calls_own_time_and_queue_wait_is_kept_apart(
    fake_server: FakeOpenAIServer, make_requests: Any
) -> None:
    # Eight calls of 0.2 s at concurrency 2: the client queues six of them.
    fake_server.configure(latency_s=0.2)
    results = judge_requests(make_requests(8), fake_server, concurrency=2)
    assert fake_server.stats().max_in_flight == 2
    assert all(r.latency_ms >= 200 for r in results)
    queued = sorted(r.queue_ms for r in results)
    # Waiting for a slot: 0, 0, then at least one, two and three calls' worth for each pair.
    assert sum(queued) >= 2 * (200 + 400 + 600)
    # The last calls waited longer in the queue than any call took at the server; before the
    # split, their latency would have counted all of it.
    assert queued[-1] > max(r.latency_ms for r in results)


# -- runs ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_mostly_invalid_run_ends_partial_and_says_why(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(reply="offformat")
    judge = make_judge(
        project, name="Sloppy", backend="openai", model="m", base_url=fake_server.base_url
    )
    judge.params = FAST
    judge.save()
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=judge,
        reference_set=make_reference_set(project, n_pairs=8),
        dispatch=False,
    )
    run = services.run_execute(run=run)
    assert run.status == RunStatus.PARTIAL
    assert run.failed == 0 and run.done == 16
    assert run.error == (
        "16 of 16 answers had no verdict: the model ignored the answer format (answers cut off "
        "at max_tokens); run the judge check to find out why and how to fix it."
    )
    assert not Judgment.objects.filter(run=run).exclude(verdict_source="").exists()


@pytest.mark.django_db
def test_a_run_records_verdict_sources_and_queue_wait(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    judge = make_judge(
        project,
        name="Constrained",
        backend="openai",
        model="m",
        base_url=fake_server.base_url,
        params={**FAST, "constrain": "json_schema", "prompt_layout": "merged"},
        concurrency=1,
    )
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=judge,
        reference_set=make_reference_set(project, n_pairs=3),
        dispatch=False,
    )
    run = services.run_execute(run=run)
    assert run.status == RunStatus.SUCCEEDED and run.error == ""
    rows = list(Judgment.objects.filter(run=run).values_list("verdict_source", "queue_ms"))
    assert {source for source, _ in rows} == {"json_schema"}
    assert all(queue >= 0 for _, queue in rows)
    assert {r.roles for r in fake_server.stats().log} == {("user",)}

    offline = make_judge(project, name="Rules")
    demo = services.run_execute(
        run=services.run_start(
            actor=None,
            rubric_version=run.rubric_version,
            judge=offline,
            reference_set=run.reference_set,
            dispatch=False,
        )
    )
    assert set(Judgment.objects.filter(run=demo).values_list("verdict_source", flat=True)) == {
        "rules"
    }


def test_the_standalone_server_plays_the_quirks_from_its_command_line() -> None:
    import httpx

    from tests.fake_openai_server import standalone_server

    with standalone_server("--system-role", "dropped", "--grammar", "supported") as (url, _):
        user = {"role": "user", "content": "Write a short poem about the sea."}
        system = {"role": "system", "content": "Answer [[A]] or [[B]]."}

        def ask(*messages: dict[str, str], **extra: Any) -> Any:
            body = {"model": "m", "messages": list(messages), **extra}
            return httpx.post(f"{url}/chat/completions", json=body, timeout=30).json()

        with_system, without = ask(system, user), ask(user)
        assert with_system["usage"]["prompt_tokens"] == without["usage"]["prompt_tokens"]
        assert "[[" not in with_system["choices"][0]["message"]["content"]
        constrained = ask(user, grammar='root ::= "[[A]]" | "[[B]]" | "[[C]]"')
        assert constrained["choices"][0]["message"]["content"] in ("[[A]]", "[[B]]", "[[C]]")
