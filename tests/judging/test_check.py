"""The judge check against a real loopback server playing one quirk at a time.

Each scenario checks a judge, asserts the finding and the recommendation, applies the
recommendation the way the page's one click does, checks again and asserts that the finding is
gone and the sanity set got a verdict for every request. The server is
``tests.fake_openai_server`` over real HTTP through the real openai SDK; the database is real.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core.models import AuditEvent
from apps.judging import check as checks
from apps.judging import services
from apps.judging.models import CheckStatus, JudgeCheck, JudgeConfig, RunStatus
from tests.factories import make_judge, make_reference_set, make_version
from tests.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.django_db

FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 10.0, "http_client": "httpx"}


def judge_for(project: Any, server: FakeOpenAIServer, **params: Any) -> JudgeConfig:
    concurrency = int(params.pop("concurrency", 4))
    return make_judge(
        project,
        name=f"Judge {JudgeConfig.objects.count() + 1}",
        backend="openai",
        model="fake-judge",
        base_url=server.base_url,
        params={**FAST, **params},
        concurrency=concurrency,
    )


def run_check(judge: JudgeConfig) -> JudgeCheck:
    started = checks.judge_check_start(actor=None, judge=judge, dispatch=False)
    return checks.judge_check_execute(check=started)


def codes(items: list[dict[str, Any]]) -> set[str]:
    return {item["code"] for item in items}


def assert_fixed(check: JudgeCheck) -> None:
    """No failing finding left. The fake judge's verdicts come from a hash of the request, so
    a position-bias warning may remain: it is about the judge's opinions, not its answers."""
    assert check.status in (CheckStatus.PASSED, CheckStatus.WARNING), check.findings
    assert not [f for f in check.findings if f["severity"] == "fail"]
    assert codes(check.findings) <= {"position_bias", "wrong_obvious"}
    assert check.metrics["sanity"]["n_valid"] == check.metrics["sanity"]["n_requests"] == 8


def apply_and_recheck(check: JudgeCheck) -> tuple[JudgeConfig, JudgeCheck]:
    judge = checks.judge_check_apply(actor=None, check=check)
    return judge, run_check(judge)


def test_a_healthy_server_passes_and_its_options_are_measured(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    check = run_check(judge_for(project, fake_server))
    assert check.status == CheckStatus.PASSED, check.findings
    assert check.findings == [] and check.recommendations == []
    metrics = check.metrics
    assert metrics["reachable"] is True and metrics["model_listed"] is True
    assert metrics["system_role"] == "honoured"
    assert metrics["support"] == {
        "logprobs": "supported",
        "json_mode": "supported",
        "json_schema": "supported",
        "guided_choice": "ignored",
        "grammar": "ignored",
    }
    sanity = metrics["sanity"]
    assert sanity["n_requests"] == 8 and sanity["n_valid"] == 8
    assert sanity["verdict_sources"] == {"text": 8}
    assert sanity["tokens_in"] > 0 and sanity["tokens_out"] > 0
    assert sanity["latency_ms"] is not None and sanity["queue_ms"] is not None
    assert check.config["params"]["timeout_s"] == FAST["timeout_s"]


def test_dropped_system_messages_are_caught_and_merging_fixes_them(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(system_role="dropped")
    judge = judge_for(project, fake_server)
    check = run_check(judge)
    assert check.status == CheckStatus.FAILED
    assert check.metrics["system_role"] == "dropped"
    assert "added no prompt tokens" in check.metrics["system_evidence"]
    assert {"system_dropped", "low_parse_rate"} <= codes(check.findings)
    # The merge, and the constraint the server enforces: one click fixes both.
    assert codes(check.recommendations) == {"merge_system", "use_constrained"}
    assert check.metrics["sanity"]["n_valid"] == 0

    judge, again = apply_and_recheck(check)
    assert judge.params["prompt_layout"] == "merged"
    assert judge.params["constrain"] == "json_schema"
    assert_fixed(again)
    assert again.metrics["sanity"]["n_valid"] == 8
    # The sanity requests of the second check carried no system message at all.
    sanity_roles = [r.roles for r in fake_server.stats().log if "[Prompt]" in r.text][-8:]
    assert sanity_roles == [("user",)] * 8
    assert JudgeCheck.objects.get(pk=check.pk).applied_at is not None
    event = AuditEvent.objects.get(action="judge.check.apply")
    assert event.before["params"].get("prompt_layout") is None
    assert event.after["params"]["prompt_layout"] == "merged"


def test_without_constraints_merging_alone_fixes_dropped_system_messages(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(system_role="dropped", json_schema="ignored", logprobs="ignored")
    check = run_check(judge_for(project, fake_server))
    # Off-format answers are cut off at max_tokens, but more room would not help a model that
    # never saw the format: the merge is the one fix offered.
    assert check.metrics["sanity"]["cut_off"] == 8
    assert codes(check.recommendations) == {"merge_system"}
    judge, again = apply_and_recheck(check)
    assert "constrain" not in judge.params
    assert_fixed(again)
    assert again.metrics["sanity"]["verdict_sources"] == {"text": 8}


def test_refused_logprobs_are_reported_and_switched_off(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(logprobs="rejected")
    check = run_check(judge_for(project, fake_server))
    assert check.metrics["support"]["logprobs"] == "rejected"
    assert "logprobs_refused" in codes(check.findings)
    assert codes(check.recommendations) == {"logprobs_off"}
    assert check.status == CheckStatus.WARNING

    fake_server.reset_stats()
    judge, again = apply_and_recheck(check)
    assert judge.params["logprobs"] is False
    assert_fixed(again)
    # Only the check's own logprobs probe was refused; no sanity request asked for them.
    assert fake_server.stats().counts["rejected_logprobs"] == 1
    assert again.metrics["sanity"]["logprob_refusals"] == 0


def test_off_format_answers_get_constrained_verdicts(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(reply="offformat")
    check = run_check(judge_for(project, fake_server))
    assert check.status == CheckStatus.FAILED
    assert "low_parse_rate" in codes(check.findings)
    assert check.metrics["sanity"]["invalid_reasons"] == {
        "answer cut off at max_tokens without a verdict": 8
    }
    [recommendation] = check.recommendations
    assert recommendation["code"] == "use_constrained"
    assert recommendation["changes"] == {"params": {"constrain": "json_schema"}}

    judge, again = apply_and_recheck(check)
    assert judge.params["constrain"] == "json_schema"
    assert_fixed(again)
    assert again.metrics["sanity"]["verdict_sources"] == {"json_schema": 8}


def test_off_format_answers_without_constraints_get_one_token_verdicts(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(reply="offformat", json_schema="ignored")
    check = run_check(judge_for(project, fake_server))
    assert check.metrics["support"]["json_schema"] == "ignored"
    assert codes(check.recommendations) == {"use_one_token"}

    judge, again = apply_and_recheck(check)
    assert judge.params["one_token"] is True
    assert_fixed(again)
    sanity = again.metrics["sanity"]
    assert sanity["verdict_sources"] == {"logprobs": 8}
    one_token_requests = [r for r in fake_server.stats().log if "[Prompt]" in r.text][-8:]
    assert {r.max_tokens for r in one_token_requests} == {1}


def test_answers_cut_off_before_the_verdict_get_more_max_tokens(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.configure(reply="verbose", json_schema="rejected", logprobs="ignored")
    check = run_check(judge_for(project, fake_server))
    assert check.status == CheckStatus.FAILED
    assert check.metrics["sanity"]["cut_off"] == 8
    assert check.metrics["support"]["json_schema"] == "rejected"
    [recommendation] = check.recommendations
    assert recommendation["code"] == "raise_max_tokens"

    judge, again = apply_and_recheck(check)
    assert judge.params["max_tokens"] == 64
    assert_fixed(again)
    assert again.metrics["sanity"]["n_valid"] == 8


def _wait_idle(server: FakeOpenAIServer) -> None:
    """Calls the client gave up on still hold the server's slot until they end."""
    for _ in range(200):
        if server.stats().in_flight == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the server never went idle")


def test_a_slow_server_that_queues_calls_gets_a_lower_concurrency(
    project: Any, fake_server: FakeOpenAIServer
) -> None:
    # One decoding slot, 0.4 s a call, a 1.2 s timeout: at concurrency 8 most calls wait in
    # the server's queue past the timeout; one at a time, every call fits.
    fake_server.configure(latency_s=0.4, max_parallel=1)
    judge = judge_for(project, fake_server, timeout_s=1.2, max_attempts=1, concurrency=8)
    check = run_check(judge)
    assert check.status == CheckStatus.FAILED
    assert check.metrics["sanity"]["timeouts"] >= 4
    assert "timeouts" in codes(check.findings)
    [recommendation] = check.recommendations
    assert recommendation["code"] == "lower_concurrency"
    assert recommendation["changes"] == {"concurrency": 1}
    assert fake_server.stats().max_in_flight >= 8

    _wait_idle(fake_server)
    judge = checks.judge_check_apply(actor=None, check=check)
    assert judge.concurrency == 1
    again = run_check(judge)
    assert again.metrics["sanity"]["timeouts"] == 0
    assert_fixed(again)


def test_an_unreachable_endpoint_fails_the_check(project: Any) -> None:
    judge = make_judge(
        project,
        name="Nowhere",
        backend="openai",
        model="m",
        base_url="http://127.0.0.1:9/v1",
        params={**FAST, "timeout_s": 2.0},
    )
    check = run_check(judge)
    assert check.status == CheckStatus.FAILED
    assert codes(check.findings) == {"unreachable"}
    assert check.metrics["reachable"] is False


def test_the_offline_judge_is_checked_with_the_sanity_set(project: Any) -> None:
    check = run_check(make_judge(project))
    assert check.metrics["sanity"]["n_requests"] == 8
    assert check.metrics["sanity"]["verdict_sources"].keys() == {"rules"}
    assert "reachable" not in check.metrics
    assert check.status in (CheckStatus.PASSED, CheckStatus.WARNING)


def test_applying_needs_known_recommendations(project: Any, fake_server: FakeOpenAIServer) -> None:
    fake_server.configure(system_role="dropped")
    check = run_check(judge_for(project, fake_server))
    with pytest.raises(ValidationError) as excinfo:
        checks.judge_check_apply(actor=None, check=check, codes=["nonsense"])
    assert "codes" in excinfo.value.message_dict
    healthy = run_check(make_judge(project, name="Offline"))
    if not healthy.recommendations:
        with pytest.raises(ValidationError) as excinfo:
            checks.judge_check_apply(actor=None, check=healthy)
        assert "check" in excinfo.value.message_dict


# -- the run gate ------------------------------------------------------------------------------


def test_a_run_refuses_a_judge_whose_last_check_failed_unless_overridden(
    project: Any, members: dict[str, Any], fake_server: FakeOpenAIServer
) -> None:
    author = members["author"]
    fake_server.configure(system_role="dropped")
    judge = judge_for(project, fake_server)
    check = run_check(judge)
    assert check.status == CheckStatus.FAILED
    version = make_version(project)
    reference_set = make_reference_set(project, n_pairs=2)
    with pytest.raises(ValidationError) as excinfo:
        services.run_start(
            actor=author, rubric_version=version, judge=judge, reference_set=reference_set
        )
    [message] = excinfo.value.message_dict["check_override"]
    assert "last check" in message and "drops system messages" in message

    run = services.run_start(
        actor=author,
        rubric_version=version,
        judge=judge,
        reference_set=reference_set,
        check_override="Measuring how bad it is on purpose.",
        dispatch=False,
    )
    assert run.check_override == "Measuring how bad it is on purpose."
    event = AuditEvent.objects.get(action="run.check_override")
    assert event.after == {"check": check.pk, "reason": "Measuring how bad it is on purpose."}

    # Fixed and checked again: no reason needed any more.
    apply_and_recheck(check)
    fresh = services.run_start(
        actor=author, rubric_version=version, judge=judge, reference_set=reference_set
    )
    assert fresh.status == RunStatus.QUEUED and fresh.check_override == ""


def test_the_command_checks_applies_and_checks_again(
    project: Any, fake_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.configure(system_role="dropped")
    judge = judge_for(project, fake_server)
    with pytest.raises(CommandError, match="failed"):
        call_command("judge_check", "--project", project.slug, "--judge", judge.name)
    out = capsys.readouterr().out
    assert "drops system messages" in out and "Merge the system message" in out

    call_command("judge_check", "--project", project.slug, "--judge", judge.name, "--apply")
    out = capsys.readouterr().out
    assert "checked again" in out and out.rstrip().count(": passed") == 1
    judge.refresh_from_db()
    assert judge.params["prompt_layout"] == "merged"
    with pytest.raises(CommandError, match="No judge"):
        call_command("judge_check", "--project", project.slug, "--judge", "nobody")
