"""Shared fixtures: users by role, API clients, a real Celery worker, and the browser."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from apps.accounts.models import Membership, Project, Role
from rubricstudio.celery import worker_command

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
SHARED_DATA = REPO.parent / "shared" / "data"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous, so Django's async-safety guard must be relaxed for them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_report_header(config: pytest.Config) -> list[str]:
    db = settings.DATABASES["default"]
    broker = settings.CELERY_BROKER_URL.split("@")[-1]
    lines = [f"rubric studio: database {db['ENGINE'].rsplit('.', 1)[-1]}, broker {broker}"]
    if settings.EMBEDDED:
        lines.append(
            "rubric studio: no DATABASE_URL/REDIS_URL: embedded fallback (SQLite + filesystem "
            "broker); CI uses the real PostgreSQL and Redis"
        )
    return lines


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Tests create many users; the production hasher is deliberately slow."""
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture(autouse=True)
def _eager_celery_by_default(settings: Any) -> Iterator[None]:
    """Unit tests run tasks eagerly; tests marked ``worker`` use real worker processes."""
    from rubricstudio.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def project(db: None) -> Project:
    return Project.objects.create(name="Alpha", slug="alpha")


@pytest.fixture
def other_project(db: None) -> Project:
    return Project.objects.create(name="Beta", slug="beta")


@pytest.fixture
def make_user(db: None, django_user_model: Any) -> Callable[..., Any]:
    def make(
        username: str,
        *,
        project: Project | None = None,
        role: str | None = None,
        superuser: bool = False,
    ) -> Any:
        user = django_user_model.objects.create_user(
            username=username,
            password="correct horse battery",
            is_superuser=superuser,
            is_staff=superuser,
        )
        if project is not None and role is not None:
            Membership.objects.create(project=project, user=user, role=role)
        return user

    return make


@pytest.fixture
def members(project: Project, make_user: Callable[..., Any]) -> dict[str, Any]:
    """One user per role in ``project``, plus an outsider, keyed by role name."""
    users = {role.value: make_user(f"{role.value}1", project=project, role=role) for role in Role}
    users["outsider"] = make_user("outsider1")
    return users


@pytest.fixture
def api_client_for() -> Callable[[Any], Any]:
    """API clients by user; every response they get is checked against the OpenAPI schema."""
    from tests.schema_check import SchemaCheckedAPIClient

    def make(user: Any) -> SchemaCheckedAPIClient:
        client = SchemaCheckedAPIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


# --- real Celery worker -----------------------------------------------------------------------


def database_url_for_subprocess() -> str:
    """A DATABASE_URL pointing the child process at the *test* database this test uses."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return ""
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    """A real ``celery worker`` child process on the test database and the configured broker."""

    def __init__(
        self,
        queues: str,
        concurrency: int,
        extra_env: dict[str, str],
        extra: Sequence[str] = (),
    ) -> None:
        env = dict(os.environ)
        url = database_url_for_subprocess()
        if url:
            env["DATABASE_URL"] = url
        else:
            env["RUBRICSTUDIO_TEST_SQLITE"] = str(settings.DATABASES["default"]["NAME"])
        env.update(extra_env)
        self.log_path = ARTIFACTS / f"worker-{os.getpid()}-{time.monotonic_ns()}.log"
        ARTIFACTS.mkdir(exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            worker_command(
                queues,
                concurrency,
                alone=True,
                name=f"test-{time.monotonic_ns()}@%h",
                extra=extra,
            ),
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()}")
            if " ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (a crash, not a shutdown)."""
        subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)], check=False)
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes: ``start(queues="default", concurrency=1)``."""
    from rubricstudio.celery import app

    app.conf.task_always_eager = False
    started: list[WorkerProcess] = []

    def start(
        queues: str = "default,api,gpu",
        concurrency: int = 1,
        extra: Sequence[str] = (),
        **extra_env: str,
    ) -> WorkerProcess:
        """``extra``: more worker arguments (``-B`` for an embedded beat, say)."""
        worker = WorkerProcess(queues, concurrency, extra_env, extra)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    # Drop anything left on the queues so the next test starts clean.
    with app.connection_for_write() as conn:
        for queue in ("default", "api", "gpu"):
            # A queue that was never declared has nothing to purge.
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)
    connection.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {predicate}")


# --- browser ----------------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in the main
    # thread while it is open, which would break later tests that call asyncio.run().
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (Debian package 'chromium')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A script or handler refused by the Content-Security-Policy is a broken page, not a warning.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield page
    context.close()
    assert not errors, f"JavaScript or CSP errors on the page: {errors}"


@pytest.fixture
def login(live_server: Any) -> Callable[[Any, Any], None]:
    def do_login(page: Any, user: Any) -> None:
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login" not in url)

    return do_login


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
