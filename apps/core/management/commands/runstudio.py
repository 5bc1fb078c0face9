"""``manage.py runstudio``: the web server and a worker with beat together; Ctrl-C stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.queues import Queue
from rubricstudio.celery import worker_command


class Command(BaseCommand):
    help = "Run the development web server and a Celery worker for every queue."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--worker-concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        queues = ",".join(q.value for q in Queue)
        # With an embedded beat, so the sweeps (runs whose worker died, pending drift reports)
        # run here too.
        schedule = str(settings.DATA_DIR / "celerybeat-schedule")
        worker = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            worker_command(
                queues, options["worker_concurrency"], extra=["-B", "--schedule", schedule]
            )
        )
        web = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "runserver", options["addrport"], "--noreload"]
        )
        self.stdout.write(f"Rubric Studio at http://{options['addrport']}/  (Ctrl-C stops it)")
        try:
            while web.poll() is None and worker.poll() is None:
                try:
                    web.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    continue
        except KeyboardInterrupt:
            pass
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (web, worker):
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
