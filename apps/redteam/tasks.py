"""Celery entry points of the red-team app: thin wrappers around ``services.job_step``.

Two step tasks do the same work and differ only by name, because the name picks the queue
(``CELERY_TASK_ROUTES``): ``redteam.step_api`` for judges behind hosted endpoints (``api``, I/O
bound) and ``redteam.step`` for the rest (``default``). Delivery is ``acks_late`` with
``reject_on_worker_lost``; a step that dies with its worker is re-sent by the redelivery or by
the red-team sweep (beat, ``jobs_sweep_stale``), and redoes its seeded unit of work from the cache.

Test hook: ``RUBRICSTUDIO_TEST_REDTEAM_STEP_DELAY_S`` (seconds) makes a step wait after claiming
the job, so the resume test can kill the worker while a generation is in flight.
"""

from __future__ import annotations

import os
from typing import Any

from celery import shared_task
from django.conf import settings

from apps.redteam import services

TEST_DELAY_ENV = "RUBRICSTUDIO_TEST_REDTEAM_STEP_DELAY_S"

STEP_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "ignore_result": True,
}


def _test_delay() -> float:
    try:
        return max(0.0, float(os.environ.get(TEST_DELAY_ENV, "") or 0))
    except ValueError:
        return 0.0


@shared_task(name=services.STEP_TASK, **STEP_OPTIONS)
def step(job_id: int) -> str:
    """One step of a red-team job whose judge runs here (queue ``default``)."""
    return services.job_step(job_id=job_id, pause_s=_test_delay())


@shared_task(name=services.STEP_TASK_API, **STEP_OPTIONS)
def step_api(job_id: int) -> str:
    """One step of a red-team job judged by an OpenAI-compatible endpoint (queue ``api``)."""
    return services.job_step(job_id=job_id, pause_s=_test_delay())
