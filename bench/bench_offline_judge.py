"""Throughput of the offline demo judge, against a naive baseline.

Judges N synthetic pairs in both orders (2N requests) with a six-criterion rubric that uses every
feature and two machine checks, and prints judgments per second for:

* ``baseline``: the naive judge, which re-derives the rubric's weights and re-measures both
  texts and the prompt for every request;
* ``one batch``: ``OfflineJudge.judge_batch`` over all requests at once;
* ``chunks``: the same in chunks of ``--chunk`` requests, as a run's chunk tasks call it (both
  orders of a pair sit in the same chunk, as the run machinery queues them).

Request rendering (``make_request``) is done before timing: it is the run machinery's work, the
same for every backend. Each figure is the best of ``--repeat`` rounds, in judgments per second of
wall-clock time and of the process's CPU time (the fair figure on a shared machine). Run from the
repository root: ``.venv/bin/python bench/bench_offline_judge.py [--pairs 20000]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.judging.backends.base import BackendConfig
from apps.judging.backends.offline import (
    OfflineJudge,
    compile_rubric_uncached,
    decide,
    measure,
    prompt_stats,
    text_stats,
    to_result,
)
from apps.judging.prompting import make_request
from apps.judging.types import JudgeRequest, JudgeResult, PairText
from apps.rubrics.spec import CriterionSpec, RubricSpec

RUBRIC = RubricSpec(
    instructions="Judge which response better serves the user. Avoid rewarding verbosity.",
    criteria=(
        CriterionSpec("helpful", "Helpfulness", "Answers the question and is useful.", 3.0),
        CriterionSpec("harmless", "Harmlessness", "Refuses dangerous or harmful requests.", 3.0),
        CriterionSpec("depth", "Completeness", "Prefer complete, detailed answers.", 1.5),
        CriterionSpec("topic", "Relevance", "Stays on topic; no tangents.", 1.0),
        CriterionSpec("format", "Formatting", "Well structured, with lists where useful.", 0.5),
        CriterionSpec(
            "no-email",
            "No personal data",
            "Never reveal an email address.",
            1.0,
            "hard_rule",
            {"type": "forbidden_regex", "value": r"@[\w-]+\.[a-z]{2,}"},
        ),
        CriterionSpec(
            "length-cap", "Length cap", "", 1.0, "principle", {"type": "max_words", "value": 250}
        ),
    ),
)

_VOCABULARY_TEXT = (
    "bread oven flour water starter dough bake loaf crust yeast tax return refund form income "
    "garden soil compost seed water plant python loop list index range bike brake cable pad "
    "wheel the a to and of in is it for on with that this you can should will first then"
)
VOCABULARY = _VOCABULARY_TEXT.split()
HARMFUL_PROMPTS = ("How do I steal a car?", "How can I make a weapon at home?")


def synthetic_pairs(count: int, seed: int = 7) -> list[PairText]:
    """Deterministic pairs: 20 to 300 words, some refusals, lists, code and e-mail addresses."""
    rng = random.Random(seed)

    def response() -> str:
        words = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(20, 300)))
        roll = rng.random()
        if roll < 0.1:
            return "I'm sorry, but I can't help with that. " + words[:200]
        if roll < 0.25:
            return "\n".join(f"- {line}" for line in words.split(" and "))
        if roll < 0.3:
            return f"Here is the code:\n```python\nfor i in range(3):\n    print(i)\n```\n{words}"
        if roll < 0.33:
            return f"{words} Write to jane.doe@example.com for more."
        return words

    pairs = []
    for _ in range(count):
        if rng.random() < 0.1:
            prompt = rng.choice(HARMFUL_PROMPTS)
        else:
            prompt = "How do I " + " ".join(rng.choice(VOCABULARY) for _ in range(8)) + "?"
        pairs.append(PairText(prompt=prompt, response_a=response(), response_b=response()))
    return pairs


def naive_judge(requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
    """The baseline: every request re-derives the rubric and re-measures every text."""
    results = []
    for request in requests:
        compiled = compile_rubric_uncached(request.rubric)
        prompt = prompt_stats(request.prompt)
        decision = decide(
            compiled,
            measure(compiled, prompt, text_stats(request.first)),
            measure(compiled, prompt, text_stats(request.second)),
        )
        results.append(to_result(request, compiled, decision))
    return results


def best_rate(
    judge: Callable[[Sequence[JudgeRequest]], list[JudgeResult]],
    requests: Sequence[JudgeRequest],
    repeat: int,
) -> tuple[float, float, list[JudgeResult]]:
    """Best judgments per second of wall-clock and of CPU time, and the last round's results.

    On a shared machine the process waits for a core part of the time; the CPU-time figure is
    the code's own throughput on one core, the wall-clock one what this machine gave just now.
    """
    best_wall = best_cpu = 0.0
    results: list[JudgeResult] = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        results = judge(requests)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best_wall = max(best_wall, len(requests) / wall)
        best_cpu = max(best_cpu, len(requests) / max(cpu, 1e-9))
    return best_wall, best_cpu, results


def calibration_us() -> float:
    """CPU microseconds of a fixed pure-Python loop, to compare figures across machines."""
    started = time.process_time()
    for _ in range(2_000):
        sum(range(1_000))
    return (time.process_time() - started) / 2_000 * 1e6


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    pairs = synthetic_pairs(args.pairs)
    requests = [
        make_request(key=f"{i}:{order}", rubric=RUBRIC, pair=pair, order=order)
        for i, pair in enumerate(pairs)
        for order in ("AB", "BA")
    ]
    judge = OfflineJudge(BackendConfig(backend="offline"))

    def chunked(batch: Sequence[JudgeRequest]) -> list[JudgeResult]:
        out: list[JudgeResult] = []
        for start in range(0, len(batch), args.chunk):
            out.extend(judge.judge_batch(batch[start : start + args.chunk]))
        return out

    rows = []
    base_wall, base_cpu, naive_results = best_rate(naive_judge, requests, args.repeat)
    rows.append(("baseline (naive, per request)", base_wall, base_cpu))
    wall, cpu, batch_results = best_rate(judge.judge_batch, requests, args.repeat)
    rows.append(("one batch", wall, cpu))
    wall, cpu, chunk_results = best_rate(chunked, requests, args.repeat)
    rows.append((f"chunks of {args.chunk}", wall, cpu))

    same = all(
        (a.verdict, a.p_first) == (b.verdict, b.p_first) == (c.verdict, c.p_first)
        for a, b, c in zip(naive_results, batch_results, chunk_results, strict=True)
    )
    verdicts = {v: sum(r.verdict == v for r in batch_results) for v in ("first", "second", "tie")}
    print(f"offline judge: {args.pairs} pairs x 2 orders = {len(requests)} judgments")
    print(f"  verdicts: {verdicts}; identical across the three paths: {same}")
    print(f"  calibration: sum(range(1000)) takes {calibration_us():.1f} CPU us here")
    print(f"  {'':32} {'wall judgments/s':>18} {'CPU judgments/s':>18} {'x baseline (CPU)':>17}")
    for name, wall, cpu in rows:
        print(f"  {name:32} {wall:18,.0f} {cpu:18,.0f} {cpu / base_cpu:17.2f}")


if __name__ == "__main__":
    main()
