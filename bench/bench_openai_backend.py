"""Throughput of the ``openai`` backend against the loopback server with a fixed latency.

The fake OpenAI-compatible server runs in its own process (``python -m
tests.fake_openai_server``), holding every request for ``--latency`` seconds, so the figure is
the client's: one backend in one process, as one API worker process runs it. Printed:

* ``concurrent``: requests/s of ``judge_batch`` at ``--concurrency``, against the ideal
  ``concurrency / latency`` (320/s for 64 and 200 ms), and the server's highest in-flight count;
* ``sequential``: requests/s at concurrency 1 on a small sample (``--sequential``), the way a
  plain loop over the SDK would run, and the speed-up of the concurrent run over it.

Each concurrent figure is the best of ``--repeat`` rounds. Run from the repository root:
``.venv/bin/python bench/bench_openai_backend.py [--requests 1920 --concurrency 64]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from apps.judging.backends.base import BackendConfig  # noqa: E402
from apps.judging.backends.openai_backend import OpenAIBackend  # noqa: E402
from apps.judging.types import JudgeRequest  # noqa: E402
from bench.common import cpu_seconds, fake_openai_server, judge_requests  # noqa: E402


def run(base_url: str, requests: list[JudgeRequest], concurrency: int) -> float:
    """Seconds to judge ``requests``; every one must come back valid."""
    config = BackendConfig(
        backend="openai", model="bench", base_url=base_url, concurrency=concurrency
    )
    started = time.perf_counter()
    results = OpenAIBackend(config).judge_batch(requests)
    elapsed = time.perf_counter() - started
    bad = [r for r in results if r.verdict == "invalid"]
    if bad:
        raise RuntimeError(f"{len(bad)} invalid results, first: {bad[0].error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1920)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--sequential", type=int, default=10, help="sample size at concurrency 1")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    requests = judge_requests(args.requests, a_repeats=5, b_repeats=3)
    ideal = args.concurrency / args.latency
    with fake_openai_server(args.latency) as (base_url, server_pid):
        stats_url = base_url.removesuffix("/v1")
        run(base_url, requests[: args.concurrency], args.concurrency)  # warm-up
        best = float("inf")
        client_cpu = server_cpu = 0.0
        for _ in range(args.repeat):
            httpx.post(f"{stats_url}/_reset", timeout=10)
            client_before, server_before = cpu_seconds(), cpu_seconds(server_pid)
            best = min(best, run(base_url, requests, args.concurrency))
            client_cpu += cpu_seconds() - client_before
            server_cpu += cpu_seconds(server_pid) - server_before
        stats = httpx.get(f"{stats_url}/_stats", timeout=10).json()
        sequential = run(base_url, requests[: args.sequential], 1)

    total = args.requests * args.repeat
    client_ms = 1000 * client_cpu / total
    server_ms = 1000 * server_cpu / total
    rate = args.requests / best
    seq_rate = args.sequential / sequential
    figures = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "latency_s": args.latency,
        "concurrent_req_per_s": round(rate, 1),
        "ideal_req_per_s": round(ideal, 1),
        "share_of_ideal": round(rate / ideal, 3),
        "server_max_in_flight": stats["max_in_flight"],
        "sequential_req_per_s": round(seq_rate, 2),
        "speedup_over_sequential": round(rate / seq_rate, 1),
        "client_cpu_ms_per_request": round(client_ms, 2),
        "server_cpu_ms_per_request": round(server_ms, 2),
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    print(
        f"{'concurrent':<12} {rate:8.1f} req/s  ({rate / ideal:.1%} of ideal {ideal:.0f}/s, "
        f"server max in flight {stats['max_in_flight']})"
    )
    print(f"{'sequential':<12} {seq_rate:8.2f} req/s  (x{rate / seq_rate:.1f} slower)")
    # CPU per request bounds the rate whatever else the machine runs: one core of client
    # CPU gives at most 1000 / client_ms requests/s.
    print(
        f"{'cpu':<12} client {client_ms:.2f} ms/request (at most {1000 / client_ms:.0f} req/s "
        f"on one core), server {server_ms:.2f} ms/request; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
