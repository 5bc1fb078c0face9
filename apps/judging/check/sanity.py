"""The sanity set: four pairs with an obvious answer judged in both orders, its figures and the
answers behind them."""

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


# Longest raw answer kept per sanity request: enough to see why it did not parse, small enough
# that the check's snapshot stays a few dozen kilobytes however verbose the judge is.
RAW_ANSWER_CAP = 4000
ERROR_CAP = 1000


def sanity_answers(
    items: Sequence[tuple[JudgeRequest, int, Order]], results: Sequence[JudgeResult]
) -> list[dict[str, Any]]:
    """One row per sanity request, in request order: what was sent, what came back, how it read.

    ``verdict`` is in the request's shown terms (``first``/``second``/...), ``pair_verdict`` in
    the pair's A/B terms (A is the better response, so ``correct`` means ``pair_verdict == "A"``).
    ``consistent`` is the pair's: ``None`` unless both of its orders gave a verdict.
    """
    rows: list[dict[str, Any]] = []
    for (request, index, order), result in zip(items, results, strict=True):
        pair_verdict = to_pair_verdict(result.verdict, order)
        valid = result.verdict != "invalid"
        rows.append(
            {
                "pair": index,
                "prompt": request.prompt,
                "order": order,
                "messages": [
                    {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
                    for m in request.messages
                ],
                "raw_output": result.raw_output[:RAW_ANSWER_CAP],
                "raw_length": len(result.raw_output),
                "raw_cut": len(result.raw_output) > RAW_ANSWER_CAP,
                "verdict": result.verdict,
                "pair_verdict": pair_verdict,
                "valid": valid,
                "error": "" if valid else (result.error or "no verdict")[:ERROR_CAP],
                "source": result.verdict_source if valid else "",
                "correct": pair_verdict == "A",
                "latency_ms": result.latency_ms,
                "queue_ms": result.queue_ms,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "attempts": result.attempts,
                "finish_reason": str(result.extra.get("finish_reason") or ""),
                "consistent": None,
            }
        )
    for pair_rows in _by_pair(rows).values():
        if len(pair_rows) == 2 and all(r["valid"] for r in pair_rows):
            agree = pair_rows[0]["pair_verdict"] == pair_rows[1]["pair_verdict"]
            for row in pair_rows:
                row["consistent"] = agree
    return rows


def sanity_metrics(
    items: Sequence[tuple[JudgeRequest, int, Order]], results: Sequence[JudgeResult]
) -> dict[str, Any]:
    """Parse rate, position consistency, agreement with the obvious answers, reasons for
    invalid answers, verdict sources, latency (server) and queue wait per call, tokens, and the
    answers themselves (``answers``, one row per request).

    The totals are counted from the rows, so a figure and the rows it summarises never disagree.
    """
    rows = sanity_answers(items, results)
    invalid_reasons: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    cut_off = timeouts = logprob_refusals = 0
    for row, result in zip(rows, results, strict=True):
        if row["valid"]:
            sources[row["source"]] += 1
        else:
            invalid_reasons[result.error or "no verdict"] += 1
            if row["finish_reason"] == "length":
                cut_off += 1
            if "timed out" in result.error:
                timeouts += 1
        if any("logprob" in str(e).lower() for e in result.extra.get("retry_errors", ())):
            logprob_refusals += 1
    n = len(rows)
    valid = sum(row["valid"] for row in rows)
    pairs_both = [p for p in _by_pair(rows).values() if p[0]["consistent"] is not None]
    consistent = sum(bool(p[0]["consistent"]) for p in pairs_both)
    correct = sum(row["correct"] for row in rows)
    latencies = [row["latency_ms"] for row in rows if row["latency_ms"]]
    queues = [row["queue_ms"] for row in rows]
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
        "tokens_in": sum(row["tokens_in"] for row in rows),
        "tokens_out": sum(row["tokens_out"] for row in rows),
        "answers": rows,
    }


def sanity_answer_pairs(rows: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The answer rows of a check grouped by pair, for a table with one row per pair:
    ``{"pair", "prompt", "ab", "ba", "consistent"}`` (an order never judged is ``None``).
    A check stored before answers were kept has none: an empty list."""
    out = []
    for index, pair_rows in sorted(_by_pair(rows or ()).items()):
        orders = {row["order"]: row for row in pair_rows}
        out.append(
            {
                "pair": index,
                "prompt": pair_rows[0]["prompt"],
                "ab": orders.get("AB"),
                "ba": orders.get("BA"),
                "consistent": pair_rows[0]["consistent"],
            }
        )
    return out


def _by_pair(rows: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    pairs: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        pairs.setdefault(row["pair"], []).append(row)
    return pairs


def _spread(values: Sequence[int]) -> dict[str, int] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values)), "max": max(values)}
