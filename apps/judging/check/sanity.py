"""The sanity set: four pairs with an obvious answer judged in both orders, and its figures."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from apps.judging.prompting import make_request
from apps.judging.protocol import to_pair_verdict
from apps.judging.types import ORDERS, JudgeRequest, JudgeResult, Mode, Order, PairText
from apps.rubrics.spec import CriterionSpec, RubricSpec

# The built-in sanity set: (prompt, the obviously better response, the obviously worse one).
SANITY_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("What is 2 + 2?", "2 + 2 = 4.", "2 + 2 = 5."),
    (
        "What is the capital of France?",
        "The capital of France is Paris.",
        "The capital of France is Berlin.",
    ),
    ("How many days are in a week?", "There are seven days in a week.", "Maybe twelve or so."),
    (
        "Write one sentence about cats.",
        "Cats are small, curious animals that many people keep as pets.",
        "asdf qwer zxcv.",
    ),
)
SANITY_RUBRIC = RubricSpec(
    instructions="Prefer the response that answers the prompt correctly.",
    criteria=(
        CriterionSpec(
            key="correct",
            title="Correctness",
            description="The facts are right and the prompt is answered.",
        ),
    ),
)


def sanity_requests(
    *, mode: Mode, layout: str, one_token: bool
) -> list[tuple[JudgeRequest, int, Order]]:
    """The sanity set as requests (pair index, order); the better response is the pair's A."""
    rubric = RubricSpec(
        instructions=SANITY_RUBRIC.instructions, criteria=SANITY_RUBRIC.criteria, output_format=mode
    )
    out: list[tuple[JudgeRequest, int, Order]] = []
    for index, (prompt, better, worse) in enumerate(SANITY_PAIRS):
        pair = PairText(prompt=prompt, response_a=better, response_b=worse)
        for order in ORDERS:
            request = make_request(
                key=f"sanity-{index}:{order}",
                rubric=rubric,
                pair=pair,
                order=order,
                mode=mode,
                layout=layout,
                one_token=one_token,
            )
            out.append((request, index, order))
    return out


def sanity_metrics(
    items: Sequence[tuple[JudgeRequest, int, Order]], results: Sequence[JudgeResult]
) -> dict[str, Any]:
    """Parse rate, position consistency, agreement with the obvious answers, reasons for
    invalid answers, verdict sources, latency (server) and queue wait per call, tokens."""
    by_pair: dict[int, dict[str, str]] = {}
    invalid_reasons: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    cut_off = timeouts = logprob_refusals = 0
    samples: list[str] = []
    for (_request, index, order), result in zip(items, results, strict=True):
        verdict = to_pair_verdict(result.verdict, order)
        by_pair.setdefault(index, {})[order] = verdict
        if result.verdict == "invalid":
            invalid_reasons[result.error or "no verdict"] += 1
            if result.extra.get("finish_reason") == "length":
                cut_off += 1
            if "timed out" in result.error:
                timeouts += 1
            if len(samples) < 3 and result.raw_output:
                samples.append(result.raw_output[:300])
        else:
            sources[result.verdict_source] += 1
        if any("logprob" in str(e).lower() for e in result.extra.get("retry_errors", ())):
            logprob_refusals += 1
    n = len(results)
    valid = n - sum(invalid_reasons.values())
    pairs_both = [v for v in by_pair.values() if "invalid" not in v.values() and len(v) == 2]
    consistent = sum(v["AB"] == v["BA"] for v in pairs_both)
    correct = sum(verdict == "A" for v in by_pair.values() for verdict in v.values())
    latencies = [r.latency_ms for r in results if r.latency_ms]
    queues = [r.queue_ms for r in results]
    return {
        "n_requests": n,
        "n_valid": valid,
        "parse_rate": valid / n if n else 0.0,
        "n_pairs_both_valid": len(pairs_both),
        "n_consistent": consistent,
        "position_consistency": consistent / len(pairs_both) if pairs_both else None,
        "n_correct": correct,
        "agreement": correct / n if n else 0.0,
        "invalid_reasons": dict(invalid_reasons.most_common()),
        "cut_off": cut_off,
        "timeouts": timeouts,
        "logprob_refusals": logprob_refusals,
        "verdict_sources": dict(sources),
        "latency_ms": _spread(latencies),
        "queue_ms": _spread(queues),
        "tokens_in": sum(r.tokens_in for r in results),
        "tokens_out": sum(r.tokens_out for r in results),
        "samples": samples,
    }


def _spread(values: Sequence[int]) -> dict[str, int] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values)), "max": max(values)}
