"""The prepared GPU check script runs on a CPU-only machine: ``--help``, and its server half
against the loopback fake server (the vLLM path is the same ``openai`` backend)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_openai_server import standalone_server

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "gpu_check.py"


def test_help_works_without_a_gpu() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--server-url", "--batch-size", "--concurrency", "--skip-local"):
        assert option in done.stdout


@pytest.mark.slow
def test_the_server_half_measures_a_loopback_server() -> None:
    with standalone_server("--latency", "0.01") as (base_url, _):
        done = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--skip-local",
                "--server-url",
                base_url,
                "--server-model",
                "fake-judge",
                "--requests",
                "16",
                "--concurrency",
                "8",
                "--repeat",
                "1",
                "--json",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])["server"]
    assert figures["requests"] == 16 and figures["invalid"] == 0
    assert figures["check"]["status"] in ("passed", "warning")
    assert figures["support"]["json_schema"] == "supported"
    assert figures["concurrency_1_per_s"] > 0 and figures["concurrency_8_per_s"] > 0
