"""Judgments per second of the ``local`` backend: batched forward passes vs one request at a time.

Builds a small randomly initialised Llama and a word-level tokenizer in a temporary folder (no
download; ``--model`` takes a real model folder or hub id instead), renders ``--requests``
judge requests of a three-criterion rubric, and prints judgments/s for:

* ``one at a time``: ``judge_batch([request])`` per request, as a loop over single calls runs;
* ``batched, no prefix``: one ``judge_batch`` over all requests, ``--batch-size`` per forward
  pass, every prompt run whole;
* ``batched``: the same with the shared-prefix cache (the rubric's tokens run once).

The one-at-a-time loop reuses the prefix cache stored by the warm-up, so the first two rows
differ by batching alone. It also checks that all three give the same verdicts. The same
script runs on a GPU machine unchanged with ``--device cuda``. Each figure is the best of
``--repeat`` rounds, after a warm-up. Run from the repository root:
``.venv/bin/python bench/bench_local_backend.py [--device cpu --requests 128 --batch-size 32]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from apps.judging.backends.base import BackendConfig
from apps.judging.backends.local import LocalBackend, build_tiny_model
from apps.judging.types import JudgeRequest, JudgeResult
from bench.common import judge_requests


def timed(
    backend: LocalBackend, batches: Sequence[Sequence[JudgeRequest]]
) -> tuple[float, list[JudgeResult]]:
    """Seconds to judge every batch in turn, and the results."""
    results: list[JudgeResult] = []
    started = time.perf_counter()
    for batch in batches:
        results.extend(backend.judge_batch(batch))
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--requests", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="", help="a model folder or hub id (default: tiny)")
    parser.add_argument("--hidden", type=int, default=128, help="tiny model's hidden size")
    parser.add_argument("--layers", type=int, default=4, help="tiny model's layers")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    requests = judge_requests(args.requests, a_repeats=7, b_repeats=4)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(
            build_tiny_model(
                Path(tmp) / "tiny",
                [m["content"] for r in requests for m in r.messages],
                hidden_size=args.hidden,
                layers=args.layers,
                max_positions=2048,
            )
        )
        params = {"device": args.device, "dtype": args.dtype, "engine": "transformers"}
        batched = LocalBackend(
            BackendConfig(
                backend="local", model=model, params={**params, "batch_size": args.batch_size}
            )
        )
        single = LocalBackend(
            BackendConfig(backend="local", model=model, params={**params, "batch_size": 1})
        )
        whole = LocalBackend(
            BackendConfig(
                backend="local",
                model=model,
                params={**params, "batch_size": args.batch_size, "prefix_cache": False},
            )
        )
        timed(batched, [requests[: args.batch_size]])  # load the model and warm up
        timed(single, [[r] for r in requests[:4]])

        best_single = best_batched = best_whole = float("inf")
        for _ in range(args.repeat):
            t_single, one_by_one = timed(single, [[r] for r in requests])
            t_whole, unprefixed = timed(whole, [requests])
            t_batched, together = timed(batched, [requests])
            best_single = min(best_single, t_single)
            best_whole = min(best_whole, t_whole)
            best_batched = min(best_batched, t_batched)
        prefix = batched.loaded().prefix
        prefix_tokens = len(prefix.ids) if prefix is not None else 0
        device = batched.loaded().device
        tokens = sum(r.tokens_in for r in together) / len(together)

    agree = sum(
        a.verdict == b.verdict == c.verdict
        for a, b, c in zip(one_by_one, unprefixed, together, strict=True)
    )
    single_rate = args.requests / best_single
    whole_rate = args.requests / best_whole
    batched_rate = args.requests / best_batched
    figures = {
        "device": device,
        "model": args.model or f"tiny llama h{args.hidden} x{args.layers}",
        "requests": args.requests,
        "mean_prompt_tokens": round(tokens, 1),
        "batch_size": args.batch_size,
        "one_at_a_time_per_s": round(single_rate, 1),
        "batched_no_prefix_per_s": round(whole_rate, 1),
        "batched_per_s": round(batched_rate, 1),
        "shared_prefix_tokens": prefix_tokens,
        "speedup": round(batched_rate / single_rate, 2),
        "same_verdicts": f"{agree}/{len(together)}",
        "torch_threads": torch.get_num_threads(),
    }
    print(f"device {device}, {figures['model']}, {tokens:.0f} prompt tokens on average")
    print(f"{'one at a time':<20} {single_rate:8.1f} judgments/s")
    print(f"{'batched, no prefix':<20} {whole_rate:8.1f} judgments/s  (batch {args.batch_size})")
    print(
        f"{'batched':<20} {batched_rate:8.1f} judgments/s  (batch {args.batch_size}, shared "
        f"prefix {prefix_tokens} tokens; x{batched_rate / single_rate:.2f} over one at a time)"
    )
    print(f"same verdicts in all three: {agree}/{len(together)}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
