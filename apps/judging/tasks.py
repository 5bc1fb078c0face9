"""Celery entry points of the judging app: thin wrappers that load by id and call services.

Three chunk tasks do the same work and differ only by name, because the name picks the queue
(``CELERY_TASK_ROUTES`` in settings): ``judging.judge_chunk`` (offline judge, ``default``),
``judging.judge_chunk_api`` (hosted endpoints, ``api``) and ``judging.judge_chunk_gpu`` (local
models, ``gpu``).

Delivery: ``acks_late`` with ``reject_on_worker_lost``, so a chunk whose pool process dies is
delivered again instead of being lost; the chunk's conditional writes make the second delivery
harmless. When the whole worker dies, the broker gives its messages back only after the
visibility timeout (twice the hard time limit); well before that, the judging sweep
(``runs_sweep_orphaned``) sees the chunk's claim silent (``apps.core.liveness``) and sends it
again. A chunk that raises is retried with exponential backoff and full jitter,
``JUDGING_CHUNK_RETRIES`` times (3), then given up: its items are marked failed with the error
and the run ends ``partial``.

Test hook: ``RUBRICSTUDIO_TEST_CHUNK_DELAY_S`` (seconds, read at each chunk) makes a chunk wait
after claiming its items. Only the worker crash test sets it, to be sure a SIGKILL lands while a
chunk is claimed but not yet written. Leave it unset everywhere else.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import connection

from apps.judging import services
from apps.judging.check import judge_check_execute
from apps.judging.models import JudgeCheck

log = logging.getLogger(__name__)

TEST_DELAY_ENV = "RUBRICSTUDIO_TEST_CHUNK_DELAY_S"
MAX_RETRIES = services.CHUNK_RETRIES
BACKOFF_FACTOR_S = 2
BACKOFF_MAX_S = 120

CHUNK_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "max_retries": MAX_RETRIES,
    "ignore_result": True,
}


def _test_delay() -> float:
    try:
        return max(0.0, float(os.environ.get(TEST_DELAY_ENV, "") or 0))
    except ValueError:
        return 0.0


def _judge_chunk(task: Task, run_id: int, index: int) -> Any:
    try:
        services.chunk_judge(run_id=run_id, index=index, pause_s=_test_delay())
    except Exception as exc:  # any failure of the chunk: retry it, then give it up
        reason = f"{type(exc).__name__}: {exc}"
        # The failure may be the connection itself (PostgreSQL restarted, the backend was
        # terminated): Django reuses a broken connection until someone checks it, so without
        # this the release below fails too and the chunk stays claimed with no retry queued.
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        services.chunk_release(run_id=run_id, index=index, error=reason)
        retries = task.request.retries
        if retries >= MAX_RETRIES:
            log.exception("run %s chunk %s failed after %s retries", run_id, index, retries)
            services.chunk_fail(run_id=run_id, index=index, reason=reason)
            return
        countdown = get_exponential_backoff_interval(
            factor=BACKOFF_FACTOR_S, retries=retries, maximum=BACKOFF_MAX_S, full_jitter=True
        )
        log.warning("run %s chunk %s: %s; retry in %ss", run_id, index, reason, countdown)
        # Not raised: the retry is already queued, and an eager call (tests, the demo) runs it
        # at once only when the task returns it (raising would propagate out of eager mode).
        return task.retry(exc=exc, countdown=countdown, throw=False)
    return None


@shared_task(name="judging.judge_chunk", **CHUNK_TASK_OPTIONS)
def judge_chunk(self: Task, run_id: int, index: int) -> Any:
    """Judge one chunk of a run with the offline judge (queue ``default``)."""
    return _judge_chunk(self, run_id, index)


@shared_task(name="judging.judge_chunk_api", **CHUNK_TASK_OPTIONS)
def judge_chunk_api(self: Task, run_id: int, index: int) -> Any:
    """Judge one chunk of a run against an OpenAI-compatible endpoint (queue ``api``)."""
    return _judge_chunk(self, run_id, index)


@shared_task(name="judging.judge_chunk_gpu", **CHUNK_TASK_OPTIONS)
def judge_chunk_gpu(self: Task, run_id: int, index: int) -> Any:
    """Judge one chunk of a run with a model loaded in this GPU worker (queue ``gpu``)."""
    return _judge_chunk(self, run_id, index)


@shared_task(name="judging.judge_check", ignore_result=True, acks_late=True)
def judge_check(check_id: int) -> str:
    """Run a judge check (queue ``api``: it waits on the judge's endpoint)."""
    check = JudgeCheck.objects.filter(pk=check_id).first()
    if check is None or check.is_finished:
        return "skipped"
    return str(judge_check_execute(check=check).status)
