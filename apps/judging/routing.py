"""Which chunk task (and so which queue) judges a backend's chunks, by the tasks' registered
names. Below the services, the selectors and the tasks alike, so each of them can ask without
importing the others."""

from __future__ import annotations

from apps.judging.models import Backend
from rubricstudio.celery import app as celery_app

# Each backend's chunk task by its registered name (``apps.judging.tasks``); the name picks the
# queue (settings ``CELERY_TASK_ROUTES``). Named rather than imported: the tasks call the
# services, so the tasks module depends on them and never the other way round.
CHUNK_TASK_NAMES: dict[str, str] = {
    Backend.OFFLINE.value: "judging.judge_chunk",
    Backend.OPENAI.value: "judging.judge_chunk_api",
    Backend.LOCAL.value: "judging.judge_chunk_gpu",
}


def chunk_task_name(backend: str) -> str:
    """The name of the chunk task that routes a chunk of this backend to the right queue."""
    return CHUNK_TASK_NAMES.get(backend, CHUNK_TASK_NAMES[Backend.OFFLINE.value])


def chunk_queue_for(backend: str) -> str:
    """The queue the chunks of this backend go to, as Celery's router sends them."""
    route = celery_app.amqp.router.route({}, chunk_task_name(backend), args=(), kwargs={})
    return str(route["queue"].name)
