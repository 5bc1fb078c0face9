"""The Celery queues, named in one place.

Work is split by the resource it waits on: bookkeeping and reports on ``default``, hosted
endpoints (I/O bound, many concurrent requests) on ``api``, in-process models on ``gpu`` (one
worker process per device, prefetch 1, model loaded once per process).
"""

from enum import StrEnum


class Queue(StrEnum):
    DEFAULT = "default"
    API = "api"
    GPU = "gpu"
