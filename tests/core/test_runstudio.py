"""``manage.py runstudio`` with real processes: SIGTERM or SIGINT stops the web server and the
worker together, and nothing is left holding the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import psutil
import pytest

from tests.conftest import ARTIFACTS, REPO, database_url_for_subprocess, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except urllib.error.HTTPError:
        return True  # 503 is an answer too: the server is up
    except OSError:
        return False
    return True


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _command_line(process: psutil.Process) -> str:
    """A child's command line; empty for one that already exited (a zombie has none)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


STUDIO_MARK = "RUBRICSTUDIO_TEST_STUDIO_MARK"


def _marked(mark: str) -> list[str]:
    """Live processes started by the studio of this test (found by their environment)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if process.environ().get(STUDIO_MARK) == mark and _alive(process.pid):
                found.append(f"{process.pid} {_command_line(process)}")
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def _left_over(mark: str, *, within: float) -> list[str]:
    """The marked processes still alive once ``within`` seconds have passed (or none before)."""
    deadline = time.monotonic() + within
    while (found := _marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_web_server_and_the_worker(transactional_db: Any, signum: int) -> None:
    port = _free_port()
    # Every process the studio starts inherits this mark, so none can go unnoticed, including
    # those the worker forks after start-up (its pool, its beat).
    mark = uuid.uuid4().hex
    env = {**os.environ, STUDIO_MARK: mark}
    url = database_url_for_subprocess()
    if url:
        env["DATABASE_URL"] = url
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"runstudio-{signal.Signals(signum).name}.log").open("w")
    argv = [sys.executable, "manage.py", "runstudio", f"127.0.0.1:{port}"]
    studio = subprocess.Popen(
        [*argv, "--worker-concurrency", "1"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _answers(port), timeout=90)
        children = psutil.Process(studio.pid).children(recursive=True)
        commands = [_command_line(child) for child in children]
        assert any("runserver" in c for c in commands), commands
        assert any("celery" in c and "worker" in c for c in commands), commands

        studio.send_signal(signum)
        assert studio.wait(timeout=60) == 0

        assert [child.pid for child in children if _alive(child.pid)] == []
        assert _left_over(mark, within=10) == []
        assert _port_is_free(port)
        assert not _answers(port)
    finally:
        if studio.poll() is None:
            for child in psutil.Process(studio.pid).children(recursive=True):
                child.kill()
            studio.kill()
        log.close()
