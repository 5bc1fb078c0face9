"""Retrying and pacing the requests of a batch: backoff with full jitter, the server's
``Retry-After``, even spacing under per-minute limits, and what a batch's requests share."""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

# Status codes worth another try: request timeout, conflict/lock, too early, rate limit, 5xx.
RETRY_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, a cap, and the server's ``Retry-After`` honoured.

    The n-th retry sleeps a uniform random time in ``[0, min(cap, base * 2**(n-1))]`` (full
    jitter spreads a burst of failed requests over the whole window), and never less than the
    server's ``Retry-After``. A ``Retry-After`` longer than ``retry_after_cap_s`` ends the
    request instead of parking the batch for that long.
    """

    max_attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 30.0
    retry_after_cap_s: float = 120.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(retry - 1, 0))
        wait = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds a server asks the client to wait: ``retry-after-ms``, then ``Retry-After``.

    ``Retry-After`` is either a number of seconds or an HTTP date (RFC 9110). The SDK has the
    same reading, but only as a private method, so it is not relied on here.
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class Pacer:
    """Spaces request starts evenly so no minute sees more than ``per_minute`` units.

    Even spacing rather than a bucket with bursts: the SDK gives no view of the server's
    remaining quota, and a steady rate never trips a per-minute limit.
    """

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, units: float = 1.0) -> None:
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + units * self.interval
        if start > now:
            await asyncio.sleep(start - now)


@dataclass
class BatchState:
    """What the requests of one batch share: the concurrency limit, pacers, the pause gate."""

    semaphore: asyncio.Semaphore
    request_pacer: Pacer | None
    token_pacer: Pacer | None
    rng: random.Random
    pause_until: float = 0.0

    async def wait_for_gate(self) -> None:
        while True:
            remaining = self.pause_until - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    def pause(self, seconds: float) -> None:
        self.pause_until = max(self.pause_until, time.monotonic() + seconds)


@dataclass
class Failure:
    """A failed call: whether it may be retried, and why."""

    message: str
    retryable: bool
    retry_after: float | None = None
    answered: bool = True
    status: int | None = None
    raw: str = ""


@dataclass
class Outcome:
    """Everything learned while judging one request."""

    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    answered: bool = False
    # Gave up without ever reaching the endpoint (every attempt failed to connect).
    unreached: bool = False
    # Duration of each HTTP call, in seconds; the last one is the answer's latency.
    calls_s: list[float] = field(default_factory=list)
