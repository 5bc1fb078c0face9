"""What the benchmark scripts share: their own database, seed data, gunicorn and worker
processes, CPU accounting, latency figures.

Each script that needs a database works on a PostgreSQL database of its own (dropped and created
again at the start, dropped at the end unless ``--keep``), migrated with ``manage.py migrate``, so
a benchmark never touches another database. The web server is gunicorn as the compose file runs
it (``DEBUG`` off); everything listens on loopback only.
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

import psutil

REPO = Path(__file__).resolve().parents[1]
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


REFUSAL = "I'm sorry, but I can't help with that. "

# The criteria of the benchmark rubric: (key, title, description, weight).
CRITERIA = (
    ("helpful", "Helpfulness", "Prefer the response that answers in detail.", 2.0),
    ("safe", "Safety", "Refuse harmful requests; never help cause harm.", 2.0),
    ("concise", "Concision", "Avoid padding and filler; be brief.", 1.0),
    ("structure", "Structure", "Readable, structured answers with steps.", 0.5),
)


def make_pairs(
    project: Any, name: str, count: int, *, seed: int = 0, refusal_share: float = 0.0
) -> Any:
    """A dataset of ``count`` synthetic pairs with gold labels (bulk inserted).

    ``refusal_share``: the share of harmlessness pairs whose response B opens with a refusal.
    """
    from apps.datasets.models import Dataset, Pair

    rng = random.Random(seed)
    dataset = Dataset.objects.create(project=project, name=name)
    pairs = []
    for i in range(count):
        domain = DOMAINS[i % len(DOMAINS)]
        prompt = f"[{name} {i}] " + _sentence(rng, rng.randint(10, 30)).replace(".", "?")
        a = _sentence(rng, rng.randint(20, 120))
        b = _sentence(rng, rng.randint(5, 80))
        if refusal_share and domain == "harmlessness" and rng.random() < refusal_share:
            b = REFUSAL + b
        digest = hashlib.sha256(f"{prompt}\x00{a}\x00{b}".encode()).hexdigest()
        pairs.append(
            Pair(
                dataset=dataset,
                external_id=f"{name}-{i}",
                prompt=prompt,
                response_a=a,
                response_b=b,
                domain=domain,
                gold_label=rng.choice(("A", "B", "A", "B", "tie")),
                content_hash=digest,
            )
        )
    Pair.objects.bulk_create(pairs, batch_size=2000)
    return dataset


def make_reference_set(dataset: Any) -> Any:
    """A reference set of every pair of ``dataset``, with their gold labels."""
    from apps.datasets.models import ReferenceItem, ReferenceSet

    pairs = list(dataset.pairs.values_list("pk", "gold_label"))
    reference = ReferenceSet.objects.create(
        project=dataset.project, name=dataset.name, dataset=dataset, item_count=len(pairs)
    )
    ReferenceItem.objects.bulk_create(
        [
            ReferenceItem(reference_set=reference, pair_id=pk, gold_label=gold, source="imported")
            for pk, gold in pairs
        ],
        batch_size=2000,
    )
    return reference


def make_version(project: Any, criteria: tuple[tuple[str, str, str, float], ...] = CRITERIA) -> Any:
    """A published rubric version of ``project`` with ``criteria``."""
    from apps.rubrics.models import Criterion, Rubric, RubricVersion, VersionStatus

    rubric = Rubric.objects.create(
        project=project, name=f"{project.name} rubric", slug=project.slug
    )
    version = RubricVersion.objects.create(
        rubric=rubric, number=1, instructions="Judge which response serves the user better."
    )
    Criterion.objects.bulk_create(
        Criterion(
            version=version,
            position=position,
            key=key,
            title=title,
            description=description,
            weight=weight,
        )
        for position, (key, title, description, weight) in enumerate(criteria)
    )
    version.status = VersionStatus.PUBLISHED
    version.save()
    return version


def judge_requests(count: int, *, a_repeats: int, b_repeats: int) -> list[Any]:
    """``count`` judge requests over synthetic pairs, both orders, rendered as a run renders
    them; response A repeats a sentence 1 to ``a_repeats`` times and B 1 to ``b_repeats``, so
    lengths vary (and batched tensors pad)."""
    from apps.judging.prompting import make_request
    from apps.judging.types import PairText
    from apps.rubrics.spec import CriterionSpec, RubricSpec

    rubric = RubricSpec(
        instructions="Judge which response better serves the user. Avoid rewarding verbosity.",
        criteria=(
            CriterionSpec("helpful", "Helpfulness", "Answers the question and is useful.", 3.0),
            CriterionSpec("harmless", "Harmlessness", "Refuses dangerous requests.", 3.0),
            CriterionSpec("concise", "Concision", "No padding.", 1.0),
        ),
    )
    requests = []
    for i in range(count):
        pair = PairText(
            prompt=f"Question {i}: explain topic {i % 37} briefly.",
            response_a=f"An answer about topic {i % 37}. " * (1 + i % a_repeats),
            response_b=f"A different answer about topic {i % 37}. " * (1 + i % b_repeats),
        )
        order = "AB" if i % 2 == 0 else "BA"
        requests.append(make_request(key=f"{i}:{order}", rubric=rubric, pair=pair, order=order))
    return requests


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
    from tests.fake_openai_server import standalone_server

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


def descendants(pid: int) -> list[int]:
    """The ids of a process's children, grandchildren and so on (none once it is gone)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process so far (this one by default; 0 once it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


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
        tree = [self.root_pid, *descendants(self.root_pid)]
        return {
            "server": {pid: cpu_seconds(pid) for pid in tree},
            "database": {
                pid: cpu_seconds(pid)
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
