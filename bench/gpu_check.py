"""GPU check: judgments/s batched vs unbatched, and the prefix cache's effect, for the two GPU
paths of a judge: the ``local`` backend (a model loaded in the worker) and a vLLM server (the
``openai`` backend pointed at ``vllm serve``).

Meant for a machine with an NVIDIA GPU; its figures go to BENCHMARKS.md. On a CPU-only machine
``--help`` works, and ``--skip-local --server-url`` runs the server half against any
OpenAI-compatible endpoint (the test suite points it at the loopback fake server).

Local backend (``--model``, a folder or hub id; ``--device cuda``):

* one at a time: ``judge_batch([request])`` per request;
* batched: one ``judge_batch`` of every request, ``--batch-size`` per forward pass, with and
  without the shared-prefix cache.

vLLM server (``--server-url http://host:8000/v1 --server-model NAME``; start it with
``vllm serve NAME --enable-prefix-caching``):

* the judge check first (findings, constrained-output support), so a misconfigured server is
  reported before it is measured;
* concurrency 1 (no batching at the server) vs ``--concurrency`` (continuous batching);
* the same requests with the rubric prefix shared (as a run sends them) vs made unique per
  request (a per-request marker before the rubric), at ``--concurrency``: the difference is
  the prefix cache; cached prompt tokens per request are read from the server's usage.

Run from the repository root:
``.venv/bin/python bench/gpu_check.py --model Qwen/Qwen2.5-0.5B-Instruct --device cuda
--server-url http://127.0.0.1:8000/v1 --server-model Qwen/Qwen2.5-0.5B-Instruct``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/gpu_check.py", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=256, help="judge requests per figure")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    local = parser.add_argument_group("local backend")
    local.add_argument("--skip-local", action="store_true")
    local.add_argument("--model", default="", help="model folder or hub id (default: tiny)")
    local.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu")
    local.add_argument("--dtype", default="auto")
    local.add_argument("--engine", default="transformers", help="transformers or vllm")
    local.add_argument("--batch-size", type=int, default=32)
    server = parser.add_argument_group("vLLM (or any OpenAI-compatible) server")
    server.add_argument("--server-url", default="", help="e.g. http://127.0.0.1:8000/v1")
    server.add_argument("--server-model", default="", help="the served model's name")
    server.add_argument("--concurrency", type=int, default=64)
    server.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    return parser


def _requests(count: int) -> list[Any]:
    from bench.common import judge_requests

    return judge_requests(count, a_repeats=7, b_repeats=4)


def _best(rounds: int, work: Any) -> tuple[float, list[Any]]:
    best, results = float("inf"), []
    for _ in range(max(1, rounds)):
        started = time.perf_counter()
        results = work()
        best = min(best, time.perf_counter() - started)
    return best, results


def local_figures(args: argparse.Namespace) -> dict[str, Any]:
    """Batched vs one-at-a-time judgments/s of the local backend, prefix cache on and off."""
    from apps.judging.backends.base import BackendConfig
    from apps.judging.backends.local import LocalBackend, build_tiny_model

    requests = _requests(args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(
            build_tiny_model(
                Path(tmp) / "tiny", [m["content"] for r in requests for m in r.messages]
            )
        )
        base = {"device": args.device, "dtype": args.dtype, "engine": args.engine}

        def backend(**params: Any) -> LocalBackend:
            return LocalBackend(
                BackendConfig(backend="local", model=model, params={**base, **params})
            )

        single = backend(batch_size=1)
        batched = backend(batch_size=args.batch_size)
        whole = backend(batch_size=args.batch_size, prefix_cache=False)
        batched.judge_batch(requests[: args.batch_size])  # load and warm up
        t_single, _ = _best(args.repeat, lambda: [single.judge_batch([r])[0] for r in requests])
        t_whole, _ = _best(args.repeat, lambda: whole.judge_batch(requests))
        t_batched, results = _best(args.repeat, lambda: batched.judge_batch(requests))
        loaded = batched.loaded()
        prefix = loaded.prefix
    n = len(requests)
    return {
        "device": loaded.device,
        "engine": loaded.engine,
        "model": args.model or "tiny llama (random weights)",
        "requests": n,
        "batch_size": args.batch_size,
        "one_at_a_time_per_s": round(n / t_single, 1),
        "batched_no_prefix_cache_per_s": round(n / t_whole, 1),
        "batched_per_s": round(n / t_batched, 1),
        "shared_prefix_tokens": len(prefix.ids) if prefix is not None else 0,
        "invalid": sum(r.verdict == "invalid" for r in results),
    }


def _unique_prefix(requests: Sequence[Any]) -> list[Any]:
    """The requests with a per-request marker before the rubric: no two share a prefix."""
    out = []
    for index, request in enumerate(requests):
        first, *rest = request.messages
        marked = {**first, "content": f"[request {index}]\n{first['content']}"}
        out.append(replace(request, messages=(marked, *rest)))
    return out


def server_figures(args: argparse.Namespace) -> dict[str, Any]:
    """The judge check, then judgments/s at concurrency 1 and N, prefix shared and unique."""
    from apps.judging.backends.base import BackendConfig, backend_class
    from apps.judging.check import assess, probe_endpoint, sanity_metrics, sanity_requests

    params = {"timeout_s": args.timeout, "max_attempts": 2}
    config = BackendConfig(
        backend="openai",
        model=args.server_model,
        base_url=args.server_url,
        params=params,
        concurrency=args.concurrency,
    )
    metrics = probe_endpoint(config)
    items = sanity_requests(mode="verdict", layout="system", one_token=False)
    check_backend = backend_class("openai")(config)
    metrics["sanity"] = sanity_metrics(items, check_backend.judge_batch([r for r, _, _ in items]))
    snapshot = {
        "backend": "openai",
        "model": args.server_model,
        "params": params,
        "concurrency": args.concurrency,
        "uses_system": True,
    }
    status, findings, recommendations = assess(metrics, snapshot)

    requests = _requests(args.requests)
    unique = _unique_prefix(requests)

    def rate(batch: Sequence[Any], concurrency: int) -> tuple[float, list[Any]]:
        backend = backend_class("openai")(replace(config, concurrency=concurrency))
        seconds, results = _best(args.repeat, lambda: backend.judge_batch(batch))
        return len(batch) / seconds, results

    rate(requests[: min(16, len(requests))], args.concurrency)  # warm up
    one_rate, _ = rate(requests, 1)
    shared_rate, shared = rate(requests, args.concurrency)
    unique_rate, unique_results = rate(unique, args.concurrency)

    def cached(results: Sequence[Any]) -> float:
        return statistics.fmean(r.extra.get("cached_tokens", 0) for r in results)

    return {
        "server": args.server_url,
        "model": args.server_model,
        "check": {"status": str(status), "findings": findings, "recommendations": recommendations},
        "support": metrics.get("support", {}),
        "requests": len(requests),
        "concurrency_1_per_s": round(one_rate, 1),
        f"concurrency_{args.concurrency}_per_s": round(shared_rate, 1),
        "unique_prefix_per_s": round(unique_rate, 1),
        "cached_prompt_tokens_shared": round(cached(shared), 1),
        "cached_prompt_tokens_unique": round(cached(unique_results), 1),
        "median_latency_ms": statistics.median(r.latency_ms for r in shared),
        "median_queue_ms": statistics.median(r.queue_ms for r in shared),
        "invalid": sum(r.verdict == "invalid" for r in shared),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.server_url and not args.server_model:
        _parser().error("--server-model is required with --server-url")
    if args.skip_local and not args.server_url:
        _parser().error("nothing to measure: give --server-url or drop --skip-local")
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubricstudio.settings")
    django.setup()
    figures: dict[str, Any] = {}
    if not args.skip_local:
        figures["local"] = local_figures(args)
        local = figures["local"]
        print(
            f"local {local['device']} ({local['engine']}), {local['model']}: "
            f"one at a time {local['one_at_a_time_per_s']}/s, batched without prefix cache "
            f"{local['batched_no_prefix_cache_per_s']}/s, batched {local['batched_per_s']}/s "
            f"(batch {local['batch_size']}, shared prefix {local['shared_prefix_tokens']} tokens)"
        )
    if args.server_url:
        figures["server"] = server = server_figures(args)
        print(f"server check: {server['check']['status']}; support {server['support']}")
        for finding in server["check"]["findings"]:
            print(f"  [{finding['severity']}] {finding['message']}")
        print(
            f"server {server['model']}: concurrency 1 {server['concurrency_1_per_s']}/s, "
            f"concurrency {args.concurrency} "
            f"{server[f'concurrency_{args.concurrency}_per_s']}/s; unique prefixes "
            f"{server['unique_prefix_per_s']}/s; cached prompt tokens per request "
            f"{server['cached_prompt_tokens_shared']} shared vs "
            f"{server['cached_prompt_tokens_unique']} unique"
        )
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
