"""Fault injection: evidence lines, a private Redis, a restartable web server, worker backends.

Every fault test prints what it injected and what it verified through the ``evidence`` fixture.
The lines bypass pytest's output capture, so a CI log reads as a record of each fault, and they
are appended to ``test-artifacts/faults-evidence.log``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import ARTIFACTS, REPO, database_url_for_subprocess

EVIDENCE_LOG = ARTIFACTS / "faults-evidence.log"
# Liveness settings of a worker a fault test starts (environment variables): beats every 0.3 s,
# silent after 1.5 s, a sweep every second, so a dead worker's work moves on within seconds.
FAST_LIVENESS = {
    "LIVENESS_HEARTBEAT_S": "0.3",
    "LIVENESS_STALE_AFTER_S": "1.5",
    "LIVENESS_SWEEP_S": "1",
    "LIVENESS_INSPECT_CACHE_S": "1",
}


class Evidence:
    """Prints ``[fault <test>] <line>`` past the capture and keeps a copy in the artifacts."""

    def __init__(self, name: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.name = name
        self.capsys = capsys
        self.lines: list[str] = []
        self.started = time.monotonic()

    def __call__(self, line: str) -> None:
        text = f"[fault {self.name} +{time.monotonic() - self.started:.1f}s] {line}"
        self.lines.append(text)
        with self.capsys.disabled():
            print(text, flush=True)
        ARTIFACTS.mkdir(exist_ok=True)
        with EVIDENCE_LOG.open("a") as log:
            log.write(text + "\n")

    def skip(self, reason: str) -> None:
        """Print why the fault cannot be injected here, then skip the test."""
        self(f"SKIPPED: {reason}")
        pytest.skip(reason)


@pytest.fixture
def evidence(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Evidence:
    """Record lines of evidence for this test (see the module docstring)."""
    return Evidence(request.node.name, capsys)


def require_postgres(evidence: Evidence) -> None:
    """Skip on the SQLite fallback: the fault needs PostgreSQL."""
    if connection.vendor != "postgresql":
        evidence.skip(
            "needs PostgreSQL (set DATABASE_URL); this run uses the embedded SQLite fallback"
        )


def require_redis(evidence: Evidence) -> None:
    """Skip on the filesystem-broker fallback: the fault needs a Redis broker."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        evidence.skip(
            "needs a Redis broker (set REDIS_URL); this run uses the filesystem broker fallback"
        )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that must use this test's database."""
    env = dict(os.environ)
    url = database_url_for_subprocess()
    if url:
        env["DATABASE_URL"] = url
    else:
        env["RUBRICSTUDIO_TEST_SQLITE"] = str(settings.DATABASES["default"]["NAME"])
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 0.1 s; fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout:.0f}s")


# --- a private Redis ----------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` of this test only, on a free loopback port, without persistence.

    Killing it loses every message it held, as a broker crash without persistence does. The
    machine's shared Redis is never touched.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="rs-fault-redis-")

    def start(self) -> None:
        """Start (or start again) on the same port; returns once it answers PING."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                self._dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=20, what=f"private redis on port {self.port} answers")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def queued(self, queue: str) -> int:
        """Messages waiting in a Celery queue (a Redis list of the same name)."""
        import redis

        return int(redis.Redis.from_url(self.url, socket_timeout=2).llen(queue))

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


def point_celery_at(url: str) -> None:
    """Send this process's tasks to the broker at ``url`` (drops the pooled connections)."""
    from kombu import pools

    from rubricstudio.celery import app

    # Close every pooled connection *and* forget the pools: kombu keeps one pool per URL, and
    # handing a closed one back when pointing at the first broker again would fail every
    # later dispatch with "Acquire on closed pool".
    pools.reset()
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def private_redis(evidence: Evidence) -> Iterator[PrivateRedis]:
    """A private Redis, with this process's Celery app pointed at it for the test.

    Request it before ``celery_worker_process`` so the workers stop while it still runs.
    """
    require_redis(evidence)
    if shutil.which("redis-server") is None:
        evidence.skip("redis-server is not installed")
    from rubricstudio.celery import app

    server = PrivateRedis()
    server.start()
    previous = app.conf.broker_url
    point_celery_at(server.url)
    yield server
    point_celery_at(previous)
    server.close()


# --- a web server process -------------------------------------------------------------------------


class WebServer:
    """The studio under ``manage.py runserver --noreload`` on the test database.

    runserver rather than gunicorn because the page needs its static files (htmx) and only the
    development server serves them without a ``collectstatic`` step.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ARTIFACTS / f"web-{os.getpid()}-{time.monotonic_ns()}.log"
        self.starts = 0

    def start(self) -> None:
        """Start on the same port every time; returns once the login page answers."""
        ARTIFACTS.mkdir(exist_ok=True)
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                f"127.0.0.1:{self.port}",
                "--noreload",
                "--skip-checks",
            ],
            cwd=REPO,
            env=subprocess_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        wait_for(self.answers, timeout=120, what=f"web server on port {self.port} answers")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"web server exited:\n{Path(self.log_path).read_text()}")
        try:
            with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the server: open connections are cut, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def web_server(transactional_db: None) -> Iterator[WebServer]:
    """A started web server process on the test database (stopped after the test)."""
    server = WebServer()
    server.start()
    yield server
    server.stop()
