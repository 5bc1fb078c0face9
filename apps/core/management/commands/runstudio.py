"""``manage.py runstudio``: the web server and a worker (with an embedded beat) together.

Ctrl-C (SIGINT) or SIGTERM stops both: the command forwards SIGTERM to each child, waits for
it, then kills whatever is left of the child's process group (all of it after a grace period),
so nothing is left holding the port or consuming the queues. Each child leads its own group
because the worker forks a pool and a beat process: killing only the worker's main process would
leave them running, orphaned. When either child exits on its own, the other is stopped too and
the command fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.queues import Queue
from rubricstudio.celery import worker_command

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run the development web server and a Celery worker for every queue."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--worker-concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        received: list[int] = []

        def on_signal(signum: int, frame: Any) -> None:
            received.append(signum)
            stop.set()

        # Installed before the children start, so a signal arriving during start-up is kept.
        previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            queues = ",".join(q.value for q in Queue)
            # With an embedded beat, so the sweeps (runs whose worker died, pending drift
            # reports) run here too.
            schedule = str(settings.DATA_DIR / "celerybeat-schedule")
            worker = worker_command(
                queues, options["worker_concurrency"], extra=["-B", "--schedule", schedule]
            )
            web = [sys.executable, "manage.py", "runserver", options["addrport"], "--noreload"]
            for name, argv in (
                ("worker", worker),
                ("web server", web),
            ):
                # Its own process group (session): the stop reaches the processes it forks.
                process = subprocess.Popen(argv, start_new_session=True)  # noqa: S603 - fixed argv
                children.append((name, process))
            self.stdout.write(f"Rubric Studio at http://{options['addrport']}/  (Ctrl-C stops it)")
            while not stop.is_set() and all(p.poll() is None for _, p in children):
                stop.wait(0.5)
        finally:
            self._stop_all(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if not received:
            ended = [f"{name} (exit {p.returncode})" for name, p in children if p.returncode]
            raise CommandError(f"stopped because a child ended: {', '.join(ended) or 'unknown'}")
        self.stdout.write(f"Stopped ({signal.Signals(received[0]).name}).")

    def _stop_all(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        # SIGTERM to each child itself: the worker then stops its own pool and beat cleanly.
        for _, process in children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in children:
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within {GRACE_SECONDS}s: killed")
            # Whatever of its group outlived it (a pool or beat process) goes too.
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the process group ``process`` leads; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
