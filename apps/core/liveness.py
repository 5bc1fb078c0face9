"""Liveness of long jobs: beats while the work runs, one stale window, and why a job waits.

Any long job made of claimed pieces (a judging run's chunks, and later jobs of the same shape)
uses the same three parts:

* ``Beater``: while a piece is being worked on, a daemon thread of the working process beats
  the job's heartbeat and the piece's claim every ``LIVENESS_HEARTBEAT_S`` seconds. It lives
  exactly as long as the work: it stops when the piece ends, and dies with the process when the
  process dies. A beat from the judging loop itself could not keep that promise while one slow
  request (tens of seconds for a reasoning model) holds the loop.
* One window, ``LIVENESS_STALE_AFTER_S``: a claim or a heartbeat older than that means nobody
  is working on it, so the claim may be taken again and the job is resumed by the sweep
  (``LIVENESS_SWEEP_S``, the beat schedule).
* ``queue_state`` and ``waiting_reason``: what the page says while a job waits, from the
  heartbeat's age and Celery's own inspection of the workers consuming the job's queue. The
  inspection is a broadcast to every worker, so its answer is cached briefly
  (``LIVENESS_INSPECT_CACHE_S``) and shared by every page, poll and sweep.

Each app with long jobs registers its sweep here (``register_sweep``, from its
``AppConfig.ready()``); beat sends one message per period (``core.sweep_stale_work``) that runs
them all in turn. One message, not one per app: a sweep reads the depth of the queue it runs on,
and sibling sweep messages waiting behind it would read as a backlog of work, so on a
one-process worker a run whose messages were lost would wait for ever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from apps.core.queues import Queue

log = logging.getLogger(__name__)

CONSUMERS_CACHE_KEY = "liveness:queue-consumers"
DEPTH_CACHE_KEY = "liveness:queue-depth:{queue}"
# Seconds the inspection broadcast waits for the workers' answers.
INSPECT_TIMEOUT_S = 1.0


def stale_after() -> timedelta:
    """The window after which a silent claim or heartbeat means nobody is working on it."""
    return timedelta(seconds=float(settings.LIVENESS_STALE_AFTER_S))


def stale_cutoff(now: datetime | None = None) -> datetime:
    """Beats older than this are stale."""
    return (now or timezone.now()) - stale_after()


def silent_for(heartbeat_at: datetime | None, now: datetime) -> float | None:
    """Seconds since the last beat when that is longer than the window, else None (alive)."""
    if heartbeat_at is None:
        return None
    age = (now - heartbeat_at).total_seconds()
    return age if age > stale_after().total_seconds() else None


class Beater:
    """Call ``beat`` every ``every`` seconds in a daemon thread while the ``with`` block runs.

    The thread has its own database connection (Django's are per thread), closed when it stops.
    A failing beat is logged and tried again at the next tick: a missed beat only makes the
    work look idle a little sooner, it must never break the work itself.
    """

    def __init__(self, beat: Callable[[], object], *, every: float | None = None) -> None:
        self.beat = beat
        self.every = float(settings.LIVENESS_HEARTBEAT_S if every is None else every)
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    self.beat()
                    self.beats += 1
                except Exception:
                    log.exception("heartbeat failed; trying again in %ss", self.every)
                    connection.close()
        finally:
            connection.close()

    @property
    def running(self) -> bool:
        """Whether the beating thread is still alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Beater:
        if self.every > 0:
            self._thread = threading.Thread(target=self._loop, name="liveness-beat", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            # A beat in progress is one short UPDATE; never wait on it for long.
            self._thread.join(timeout=max(self.every, 5.0))


# --- who consumes a queue -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueState:
    """Who consumes a queue, and how many messages wait in it (None: the broker did not say)."""

    queue: str
    consumers: tuple[str, ...]
    waiting: int | None

    @property
    def consumed(self) -> bool:
        return bool(self.consumers)


def _inspect_consumers() -> dict[str, list[str]]:
    """Celery's inspection of every worker's queues: {queue: [worker, ...]}."""
    from rubricstudio.celery import app

    try:
        answers = app.control.inspect(timeout=INSPECT_TIMEOUT_S).active_queues() or {}
    except Exception:  # a broker that does not answer: nobody can be seen consuming
        log.warning("worker inspection failed", exc_info=True)
        answers = {}
    consumers: dict[str, list[str]] = {}
    for worker, queues in answers.items():
        for queue in queues or ():
            consumers.setdefault(str(queue.get("name", "")), []).append(worker)
    return {name: sorted(workers) for name, workers in consumers.items()}


def _queue_depth(queue: str) -> int | None:
    """Messages waiting in ``queue`` at the broker (not those a worker has already reserved)."""
    from rubricstudio.celery import app

    try:
        with app.connection_for_read() as conn:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
    except Exception:  # a queue never declared, or a broker away: unknown
        return None


def queue_state(queue: str) -> QueueState:
    """Who consumes ``queue`` (cached for ``LIVENESS_INSPECT_CACHE_S``) and its depth."""
    from rubricstudio.celery import app

    if app.conf.task_always_eager:
        # Tasks run inline in the caller (tests, the demo): the caller is the consumer.
        return QueueState(queue=queue, consumers=("this process (eager)",), waiting=0)
    ttl = float(settings.LIVENESS_INSPECT_CACHE_S)
    consumers = cache.get(CONSUMERS_CACHE_KEY)
    if consumers is None:
        consumers = _inspect_consumers()
        cache.set(CONSUMERS_CACHE_KEY, consumers, ttl)
    depth_key = DEPTH_CACHE_KEY.format(queue=queue)
    waiting = cache.get(depth_key, -1)
    if waiting == -1:
        waiting = _queue_depth(queue)
        cache.set(depth_key, waiting, ttl)
    return QueueState(queue=queue, consumers=tuple(consumers.get(queue, ())), waiting=waiting)


def forget_queue_states() -> None:
    """Drop the cached inspection (after workers start or stop, say)."""
    cache.delete(CONSUMERS_CACHE_KEY)
    cache.delete_many([DEPTH_CACHE_KEY.format(queue=q.value) for q in Queue])


def waits_for_queue(state: QueueState, *, pending: int) -> bool:
    """Whether a silent job with ``pending`` queued pieces should wait rather than be resumed.

    It waits while nobody consumes its queue, or while at least as many messages wait in the
    queue as it has pending pieces: they may all still be there, behind other work. With fewer
    waiting (queues are first in, first out), some of its messages are held by a dead worker or
    lost, and resuming it is the only way on. A broker that does not say its depth counts as
    an empty queue. Pure.
    """
    return not state.consumed or (state.waiting or 0) >= max(pending, 1)


def waiting_reason(*, silent_s: float, state: QueueState) -> str:
    """Why a job whose heartbeat went silent ``silent_s`` seconds ago is not moving (pure)."""
    parts = [f"no worker has reported for {int(silent_s)} s"]
    queue = f"the `{state.queue}` queue"
    count = len(state.consumers)
    workers = f"{count} worker{'s' if count != 1 else ''}"
    if not state.consumed:
        parts.append(f"no worker is consuming {queue}")
    elif state.waiting:
        parts.append(
            f"{state.waiting} message{'s' if state.waiting != 1 else ''} wait in {queue} "
            f"for its {workers}"
        )
    else:
        parts.append(f"{workers} consume{'s' if count == 1 else ''} {queue}; it will be resumed")
    return "; ".join(parts)


# --- the sweeps ---------------------------------------------------------------------------------

Sweep = Callable[[], object]
_sweeps: dict[str, Sweep] = {}


def register_sweep(name: str, sweep: Sweep) -> None:
    """Run ``sweep`` (no arguments; returns what it did) on every beat of the stale-work sweep."""
    _sweeps[name] = sweep


def sweeps_run() -> dict[str, object]:
    """Run every registered sweep in turn: ``{name: outcome}`` (``None`` for one that failed).

    A failing sweep is logged and the others still run: one app's broken sweep must not stop
    another app's jobs from being resumed.
    """
    outcomes: dict[str, object] = {}
    for name, sweep in _sweeps.items():
        try:
            outcomes[name] = sweep()
        except Exception:
            log.exception("the %s sweep failed; the next beat tries again", name)
            outcomes[name] = None
    return outcomes
