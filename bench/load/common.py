"""What the load scripts share: their own database, gunicorn and worker processes, latency figures.

Each script works on a PostgreSQL database of its own (dropped and created again at the start,
dropped at the end unless ``--keep``), migrated with ``manage.py migrate``, so a load run never
touches another database. The web server is gunicorn as the compose file runs it (``DEBUG``
off); everything listens on loopback only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
LOG_DIR = REPO / "var" / "load"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/rubricstudio"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
WORDS = (
    "the",
    "answer",
    "uses",
    "clear",
    "steps",
    "and",
    "a",
    "short",
    "example",
    "so",
    "reader",
    "can",
    "follow",
    "each",
    "part",
    "of",
    "it",
    "without",
    "guessing",
    "what",
    "comes",
    "next",
    "or",
    "why",
    "matters",
    "here",
)
DOMAINS = ("helpfulness", "harmlessness", "code", "summarisation")


# --- the database ---------------------------------------------------------------------------------


def load_database_url(base_url: str, suffix: str) -> tuple[str, str, str]:
    """(URL of the load database, its name, URL of the server's maintenance database)."""
    parts = urlsplit(base_url)
    name = f"rs_load_{suffix}"
    return (
        urlunsplit(parts._replace(path="/" + name)),
        name,
        urlunsplit(parts._replace(path="/postgres")),
    )


def recreate_database(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    """Drop the database (closing its connections) and, unless ``drop_only``, create it empty."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def server_env(database_url: str, redis_url: str, application: str) -> dict[str, str]:
    """Environment of the processes under load: production-like settings, loopback only.

    ``application`` names their database connections (``application_name``), so the CPU of
    their PostgreSQL backends can be told apart.
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{database_url}?application_name={application}",
        REDIS_URL=redis_url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
    )
    return env


def setup_django(database_url: str, redis_url: str) -> None:
    """Point this process at the load database and broker, start Django and migrate."""
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, DEBUG="0")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubricstudio.settings")
    sys.path.insert(0, str(REPO))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=server_env(database_url, redis_url, "load-migrate"),
        check=True,
    )
    import django

    django.setup()


# --- seed data ------------------------------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def make_pairs(project: Any, name: str, count: int, *, seed: int = 0) -> Any:
    """A dataset of ``count`` synthetic pairs with gold labels (bulk inserted)."""
    from apps.datasets.models import Dataset, Pair

    rng = random.Random(seed)
    dataset = Dataset.objects.create(project=project, name=name)
    pairs = []
    for i in range(count):
        prompt = f"[{name} {i}] " + _sentence(rng, rng.randint(10, 30)).replace(".", "?")
        a = _sentence(rng, rng.randint(20, 120))
        b = _sentence(rng, rng.randint(5, 80))
        digest = hashlib.sha256(f"{prompt}\x00{a}\x00{b}".encode()).hexdigest()
        pairs.append(
            Pair(
                dataset=dataset,
                external_id=f"{name}-{i}",
                prompt=prompt,
                response_a=a,
                response_b=b,
                domain=DOMAINS[i % len(DOMAINS)],
                gold_label=rng.choice(("A", "B", "A", "B", "tie")),
                content_hash=digest,
            )
        )
    Pair.objects.bulk_create(pairs, batch_size=2000)
    return dataset


def make_member(project: Any, username: str, role: str) -> tuple[Any, str]:
    """A member of ``project`` with ``role`` and an API token; returns (user, token key)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from apps.accounts.models import Membership

    user = get_user_model().objects.create_user(username=username)
    Membership.objects.create(project=project, user=user, role=role)
    return user, Token.objects.create(user=user).key


# --- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process whose output goes to a log file under ``var/load``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.log_path.name} exited:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def start_gunicorn(env: dict[str, str], *, workers: int, threads: int) -> tuple[Process, str]:
    """gunicorn on a free loopback port, as the compose file runs it; returns (process, URL)."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "rubricstudio.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
    ]
    if threads > 1:
        argv += ["--worker-class", "gthread", "--threads", str(threads)]
    process = Process("gunicorn", argv, env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        process.check_alive()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer:\n{process.log_path.read_text()}")
        time.sleep(0.3)


def start_worker(env: dict[str, str], *, concurrency: int, queues: str = "default") -> Process:
    """A Celery worker on the load database; returns once it answers a ping."""
    from rubricstudio.celery import app, worker_command

    name = f"load-{time.monotonic_ns()}@{socket.gethostname()}"
    process = Process(
        "worker",
        worker_command(queues, concurrency, loglevel="WARNING", name=name, alone=True),
        env,
    )
    deadline = time.monotonic() + 120
    while not app.control.ping(destination=[name], timeout=1.0):
        process.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker did not answer:\n{process.log_path.read_text()}")
    return process


@contextmanager
def fake_openai_server(latency: float) -> Iterator[tuple[str, int]]:
    """The loopback OpenAI-compatible server in a child process, holding each request for
    ``latency`` seconds; yields its base URL and process id."""
    from apps.judging.fake_server import standalone_server

    with standalone_server("--latency", str(latency)) as server:
        yield server


@contextmanager
def stopping(*processes: Process) -> Iterator[None]:
    """Stop the processes however the block ends."""
    try:
        yield
    finally:
        for process in processes:
            process.stop()


# --- figures --------------------------------------------------------------------------------------


@dataclass
class Latencies:
    """Request latencies (seconds) and outcomes, by kind of request."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.samples.setdefault(kind, []).append(seconds)
        if not ok:
            self.errors[f"{kind}: {detail}"] += 1

    def count(self) -> int:
        return sum(len(v) for v in self.samples.values())

    def summary(self, elapsed_s: float) -> list[str]:
        """One line per kind and one for all: count, requests/s, p50/p95/p99/max in ms."""
        lines = []
        everything = [s for values in self.samples.values() for s in values]
        for kind, values in [*sorted(self.samples.items()), ("all", everything)]:
            lines.append(f"  {kind:<8} {describe(values, elapsed_s)}")
        errors = sum(self.errors.values())
        lines.append(f"  errors   {errors}" + (f" {dict(self.errors)}" if errors else ""))
        return lines


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max, in milliseconds."""
    if len(values) < 2:
        only = values[0] * 1000 if values else float("nan")
        return {"p50": only, "p95": only, "p99": only, "max": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "max": max(values) * 1000,
    }


def describe(values: list[float], elapsed_s: float) -> str:
    p = percentiles(values)
    rate = len(values) / elapsed_s if elapsed_s > 0 else float("nan")
    return (
        f"n={len(values):>6}  {rate:7.1f} req/s  p50 {p['p50']:6.1f} ms  p95 {p['p95']:6.1f} ms  "
        f"p99 {p['p99']:6.1f} ms  max {p['max']:7.1f} ms"
    )


def machine_line() -> str:
    """Cores and load average, printed with every figure (the machine may be shared)."""
    load = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


async def warm_up(base_url: str, token: str, path: str, *, clients: int, seconds: float) -> int:
    """GET ``path`` from ``clients`` clients for ``seconds`` (not measured); returns the count.

    A fresh gunicorn worker imports and connects on its first requests; the figures are about
    the steady state.
    """
    import httpx

    done = 0
    deadline = time.monotonic() + seconds

    async def client_loop() -> None:
        nonlocal done
        headers = {"Authorization": f"Token {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0) as client:
            while time.monotonic() < deadline:
                await client.get(path)
                done += 1

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return done


# --- CPU accounting ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = []
    for child in (int(p) for p in text.split()):
        found += [child, *_children(child)]
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pids(admin_url: str, database: str, application: str) -> list[int]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [database, application],
        ).fetchall()
    return [int(pid) for (pid,) in rows]


class CpuMeter:
    """CPU seconds spent by a process tree and by PostgreSQL's backends on one database.

    On a shared machine wall-clock latencies depend on everything else running; the CPU spent
    per request by the server and by the database does not, and says what the same load would
    need on a machine of its own. Backends that end between the two readings are missed.
    """

    def __init__(self, root_pid: int, admin_url: str, database: str, application: str) -> None:
        self.root_pid = root_pid
        self.admin_url = admin_url
        self.database = database
        self.application = application
        self._start = self._read()

    def _read(self) -> dict[str, dict[int, float]]:
        tree = [self.root_pid, *_children(self.root_pid)]
        return {
            "server": {pid: _cpu_seconds(pid) for pid in tree},
            "database": {
                pid: _cpu_seconds(pid)
                for pid in _backend_pids(self.admin_url, self.database, self.application)
            },
        }

    def spent(self) -> dict[str, float]:
        """CPU seconds since the meter was made: ``server`` and ``database``."""
        now = self._read()
        return {
            kind: sum(cpu - self._start[kind].get(pid, 0.0) for pid, cpu in now[kind].items())
            for kind in now
        }


async def sample_backends(
    admin_url: str, database: str, application: str, stop: asyncio.Event
) -> Counter[str]:
    """Every 0.2 s, what the web connections' backends are doing: idle, running, or waiting.

    ``waiting: Lock`` means a request is blocked by another transaction (a row or a unique
    index entry); a server slow only for lack of CPU shows ``active`` instead.
    """
    import psycopg

    seen: Counter[str] = Counter()
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        while not stop.is_set():
            cursor = await conn.execute(
                "SELECT state, wait_event_type FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s",
                [database, application],
            )
            for state, wait in await cursor.fetchall():
                if state == "active" and wait:
                    seen[f"waiting: {wait}"] += 1
                else:
                    seen[str(state)] += 1
            await asyncio.sleep(0.2)
    return seen
