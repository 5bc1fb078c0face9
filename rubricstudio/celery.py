"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

import os
import sys
from collections.abc import Sequence

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubricstudio.settings")

app = Celery("rubricstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_command(
    queues: str,
    concurrency: int,
    *,
    loglevel: str = "INFO",
    name: str = "",
    alone: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """The argv of a ``celery worker`` child process of this app on ``queues``.

    ``alone``: a worker that needs no cluster chatter (gossip, mingle, heartbeats), as the
    test and benchmark workers, which start and stop many times on one broker.
    """
    argv = [sys.executable, "-m", "celery", "-A", "rubricstudio", "worker", "-Q", queues]
    argv += ["--concurrency", str(concurrency), "--loglevel", loglevel]
    if alone:
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if name:
        argv += ["-n", name]
    return [*argv, *extra]
