"""Cache keys and money: plain functions shared by the run machinery, the estimate and the tests.

A cached answer is reusable when the judge would see exactly the same thing: the same rendered
messages, in the same order, sent to the same backend and model with the same sampling
parameters. Parameters that only change *how* a request travels (timeouts, retry policy, chunk
size) are left out of the key, so tuning them does not throw the cache away.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

# Bump when the meaning of a cached answer changes (a backend starts answering differently).
CACHE_KEY_VERSION = 1

TRANSPORT_PARAMS = frozenset(
    {
        "timeout_s",
        "max_attempts",
        "backoff_base_s",
        "backoff_cap_s",
        "retry_after_cap_s",
        "chunk_size",
        "batch_size",
    }
)

PER_MILLION = Decimal(1_000_000)
MONEY_QUANTUM = Decimal("0.000001")


def judge_fingerprint(*, backend: str, model: str, params: Mapping[str, Any]) -> str:
    """The part of a cache key that names the judge: backend, model and answer-shaping params."""
    shaping = {k: v for k, v in sorted(params.items()) if k not in TRANSPORT_PARAMS}
    return json.dumps(
        [CACHE_KEY_VERSION, backend, model, shaping], sort_keys=True, separators=(",", ":")
    )


def judge_identity(judge: Any) -> dict[str, Any]:
    """What makes a judge config answer as it does: backend, model, endpoint and the parameters
    that shape answers (transport settings such as timeouts and batch size do not). A run keeps
    it as it was at the run's start (``JudgingRun.judge_state``); a drift guard keeps the one it
    cleared."""
    return {
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "params": {k: v for k, v in sorted(judge.params.items()) if k not in TRANSPORT_PARAMS},
    }


def cache_key(*, messages: Sequence[Mapping[str, str]], fingerprint: str, order: str) -> str:
    """sha256 over the judge fingerprint, the shown order and the rendered messages.

    Each part is fed to the hash with its length in front, so no two different inputs share a
    byte stream; this skips serialising the messages (several times slower on long prompts).
    """
    digest = hashlib.sha256()
    parts = [fingerprint, order]
    for message in messages:
        parts.append(message.get("role", ""))
        parts.append(message.get("content", ""))
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def token_cost(
    tokens_in: int, tokens_out: int, price_in: Decimal | None, price_out: Decimal | None
) -> Decimal:
    """Money for the tokens at prices per million input/output tokens (missing price = free)."""
    cost = Decimal(0)
    if price_in:
        cost += Decimal(tokens_in) * Decimal(price_in) / PER_MILLION
    if price_out:
        cost += Decimal(tokens_out) * Decimal(price_out) / PER_MILLION
    return cost.quantize(MONEY_QUANTUM)
