"""Celery entry points of drift forensics: thin wrappers that call services.

An attribution asks the report's judge many questions, so its task goes to the queue of that
judge's backend, like a judging chunk: ``forensics.attribute`` (offline judge, ``default``),
``forensics.attribute_api`` (hosted endpoints, ``api``), ``forensics.attribute_gpu`` (local
models, ``gpu``). ``forensics.await_judge_drift`` waits for a judge drift report's runs the way
``drift.await_report_runs`` waits for a drift report's.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.conf import settings

from apps.drift.tasks import poll_countdown
from apps.forensics import services
from apps.judging.models import Backend

ATTRIBUTION_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "ignore_result": True,
}


@shared_task(name="forensics.attribute", **ATTRIBUTION_OPTIONS)
def attribute(attribution_id: int) -> str:
    """Run a clause attribution with the offline judge (queue ``default``)."""
    return str(services.attribution_execute(attribution_id=attribution_id).status)


@shared_task(name="forensics.attribute_api", **ATTRIBUTION_OPTIONS)
def attribute_api(attribution_id: int) -> str:
    """Run a clause attribution against an OpenAI-compatible endpoint (queue ``api``)."""
    return str(services.attribution_execute(attribution_id=attribution_id).status)


@shared_task(name="forensics.attribute_gpu", **ATTRIBUTION_OPTIONS)
def attribute_gpu(attribution_id: int) -> str:
    """Run a clause attribution with a model loaded in a GPU worker (queue ``gpu``)."""
    return str(services.attribution_execute(attribution_id=attribution_id).status)


_BY_BACKEND: dict[str, Task] = {
    Backend.OFFLINE.value: attribute,
    Backend.OPENAI.value: attribute_api,
    Backend.LOCAL.value: attribute_gpu,
}


def attribution_task_for(backend: str) -> Task:
    """The attribution task whose name routes it to the queue of the judge's backend."""
    return _BY_BACKEND.get(backend, attribute)


@shared_task(
    name="forensics.await_judge_drift",
    bind=True,
    max_retries=None,
    acks_late=True,
    ignore_result=True,
)
def await_judge_drift(self: Task, report_id: int) -> Any:
    """Build the judge drift report once its runs have ended; otherwise look again later."""
    state = services.judge_drift_advance(report_id=report_id)
    if state != services.WAITING or self.request.is_eager:
        return state
    return self.retry(countdown=poll_countdown(self.request.retries), throw=False)


@shared_task(name="forensics.guard_judge_check", acks_late=True, ignore_result=True)
def guard_judge_check(
    rubric_id: int,
    old_judge_id: int,
    new_judge_id: int,
    reference_set_id: int,
    in_place: bool = False,
) -> int | None:
    """The guard's judge changed (or was edited in place): start the judge drift report of old
    against new judge."""
    report = services.guard_judge_change_check_by_ids(
        rubric_id=rubric_id,
        old_judge_id=old_judge_id,
        new_judge_id=new_judge_id,
        reference_set_id=reference_set_id,
        in_place=in_place,
    )
    return report.pk if report is not None else None


@shared_task(name="forensics.drift_report_judge_split", acks_late=True, ignore_result=True)
def drift_report_judge_split(report_id: int) -> None:
    """A drift report became ready: split its causes when its judge moved between its runs."""
    services.drift_report_judge_split_safely(report_id=report_id)


@shared_task(name="forensics.guard_judge_cleared", acks_late=True, ignore_result=True)
def guard_judge_cleared(rubric_id: int) -> int:
    """A guard's new judge may have been cleared: start again the checks that waited for it."""
    return len(services.guard_held_checks_resume(rubric_id=rubric_id))
