"""Load: clients polling a run's status while a real worker writes the run.

gunicorn (as the compose file runs it), a Celery worker and PostgreSQL, on a database of the
script's own (``rs_load_runs``). A run of ``--pairs`` pairs (two judgments each, cache off so
every run does the same work) is judged once with nobody watching and once with
``--pollers`` clients (50) each asking ``GET /api/runs/{id}/`` every ``--interval`` seconds
(1 s, as the run page does; 0 polls back to back), alternating over ``--rounds`` rounds. It
prints the poll latencies and errors, and the runs' durations (from the start call to the row
saying the run ended) with and without the pollers, and their ratio.

``--judge offline`` (the default) judges on the worker's CPU, so the run and the pollers share
the machine's cores: the worst case. ``--judge openai`` calls the loopback OpenAI-compatible
server (``--latency`` seconds per call, ``--concurrency`` in flight), the way a run against a
hosted endpoint spends its time.

Run from the repository root (loopback only)::

    .venv/bin/python bench/load/run_status.py --pollers 50 --interval 1
    .venv/bin/python bench/load/run_status.py --pollers 50 --interval 1 --judge openai
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    CpuMeter,
    Latencies,
    fake_openai_server,
    load_database_url,
    machine_line,
    make_member,
    make_pairs,
    make_version,
    recreate_database,
    server_env,
    setup_django,
    start_gunicorn,
    start_worker,
    stopping,
    warm_up,
)

TERMINAL = {"succeeded", "partial", "failed", "cancelled"}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--rounds", type=int, default=2, help="runs with and without pollers")
    parser.add_argument("--chunk", type=int, default=250, help="judgments per chunk")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery pool size")
    parser.add_argument(
        "--judge",
        choices=("offline", "openai"),
        default="offline",
        help="offline: CPU-bound, the worst case for sharing the cores with the pollers; "
        "openai: the loopback OpenAI-compatible server, as a hosted endpoint",
    )
    parser.add_argument("--latency", type=float, default=0.2, help="openai: seconds per call")
    parser.add_argument("--concurrency", type=int, default=64, help="openai: calls in flight")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="server to use")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the load database")
    return parser.parse_args(argv)


def _seed(args: argparse.Namespace, base_url: str | None) -> tuple[Any, Any, Any, str]:
    """(rubric version, judge, dataset, a viewer's API token); an ``openai`` judge calls
    ``base_url``."""
    from apps.accounts.models import Project, Role
    from apps.judging.models import JudgeConfig

    project = Project.objects.create(name="Load", slug="load")
    _, token = make_member(project, "load-viewer", Role.VIEWER)
    version = make_version(
        project,
        tuple(
            (key, title, f"Prefer the response with more {title.lower()}.", weight)
            for key, title, weight in (
                ("helpful", "Helpfulness", 2.0),
                ("concise", "Concision", 1.0),
            )
        ),
    )
    if args.judge == "openai":
        judge = JudgeConfig.objects.create(
            project=project,
            name="Loopback endpoint",
            backend="openai",
            model="load-judge",
            base_url=base_url,
            concurrency=args.concurrency,
            params={"chunk_size": args.chunk},
        )
    else:
        judge = JudgeConfig.objects.create(
            project=project, name="Offline", backend="offline", params={"chunk_size": args.chunk}
        )
    return version, judge, make_pairs(project, "load-pairs", args.pairs), token


def _start(version: Any, judge: Any, dataset: Any) -> int:
    from apps.judging.services import run_start

    run = run_start(
        actor=None, rubric_version=version, judge=judge, dataset=dataset, use_cache=False
    )
    return int(run.pk)


def _ended(run_id: int) -> tuple[str, float] | None:
    """(status, seconds from creation to end) once the run has ended."""
    from apps.judging.models import JudgingRun

    row = JudgingRun.objects.filter(pk=run_id).values("status", "created_at", "finished_at")[0]
    if row["status"] not in TERMINAL or row["finished_at"] is None:
        return None
    return row["status"], (row["finished_at"] - row["created_at"]).total_seconds()


async def _poller(
    base_url: str,
    token: str,
    run_id: int,
    interval: float,
    stats: Latencies,
    stop: asyncio.Event,
    *,
    until_ended: bool = True,
) -> None:
    import httpx

    headers = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                answer = await client.get(f"/api/runs/{run_id}/")
            except httpx.HTTPError as exc:
                stats.record("status", time.perf_counter() - started, False, type(exc).__name__)
            else:
                ok = answer.status_code == 200
                stats.record("status", time.perf_counter() - started, ok, str(answer.status_code))
                if until_ended and ok and answer.json()["status"] in TERMINAL:
                    return
            if interval > 0:
                await asyncio.sleep(interval)


async def _watched_run(
    base_url: str, token: str, version: Any, judge: Any, dataset: Any, args: argparse.Namespace
) -> tuple[str, float, Latencies, float]:
    """One run with the pollers on it: (status, duration, poll latencies, polling seconds)."""
    stats = Latencies()
    stop = asyncio.Event()
    run_id = await asyncio.to_thread(_start, version, judge, dataset)
    started = time.monotonic()
    # The pollers start together, as pages opened on the run would, but at spread offsets.
    pollers = [
        asyncio.create_task(
            _delayed(
                i * args.interval / args.pollers,
                _poller(base_url, token, run_id, args.interval, stats, stop),
            )
        )
        for i in range(args.pollers)
    ]
    while (ended := await asyncio.to_thread(_ended, run_id)) is None:
        await asyncio.sleep(0.1)
    polling = time.monotonic() - started
    await asyncio.wait_for(asyncio.gather(*pollers), timeout=120)
    stop.set()
    return ended[0], ended[1], stats, polling


async def _ended_run_polls(
    base_url: str, token: str, run_id: int, args: argparse.Namespace, seconds: float
) -> Latencies:
    """The same pollers on a run that has ended (its stored summary) for ``seconds``."""
    stats = Latencies()
    stop = asyncio.Event()
    pollers = [
        asyncio.create_task(
            _delayed(
                i * args.interval / args.pollers,
                _poller(base_url, token, run_id, args.interval, stats, stop, until_ended=False),
            )
        )
        for i in range(args.pollers)
    ]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*pollers)
    return stats


async def _delayed(seconds: float, coroutine: Any) -> None:
    await asyncio.sleep(seconds)
    await coroutine


def _lone_run(version: Any, judge: Any, dataset: Any) -> tuple[str, float, int]:
    run_id = _start(version, judge, dataset)
    while (ended := _ended(run_id)) is None:
        time.sleep(0.1)
    return ended[0], ended[1], run_id


def _cpu_line(cpu: dict[str, float], requests: int) -> str:
    requests = max(requests, 1)
    return (
        f"  cpu per poll: web server {1000 * cpu['server'] / requests:.1f} ms, PostgreSQL "
        f"(web connections) {1000 * cpu['database'] / requests:.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    database_url, name, admin_url = load_database_url(args.database_url, "runs")
    recreate_database(admin_url, name)
    with contextlib.ExitStack() as stack:
        endpoint = None
        if args.judge == "openai":
            endpoint, _ = stack.enter_context(fake_openai_server(args.latency))
        return _measure(args, database_url, name, admin_url, endpoint)


def _measure(
    args: argparse.Namespace, database_url: str, name: str, admin_url: str, endpoint: str | None
) -> int:
    try:
        started = time.monotonic()
        setup_django(database_url, args.redis_url)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        version, judge, dataset, token = _seed(args, endpoint)
        gunicorn, base_url = start_gunicorn(
            server_env(database_url, args.redis_url, "load-web"),
            workers=args.workers,
            threads=args.threads,
        )
        worker = start_worker(
            server_env(database_url, args.redis_url, "load-worker"),
            concurrency=args.worker_concurrency,
            queues="api" if args.judge == "openai" else "default",
        )
        judge_line = (
            f"openai judge ({args.latency:g} s per call, {args.concurrency} in flight)"
            if args.judge == "openai"
            else "offline judge"
        )
        print(f"setup (migrate, seed, processes) {time.monotonic() - started:.0f} s")
        print(machine_line())
        print(
            f"load: {judge_line} run of {args.pairs} pairs ({2 * args.pairs} judgments, chunks of "
            f"{args.chunk}, worker concurrency {args.worker_concurrency}); {args.pollers} "
            f"pollers every {args.interval:g} s; gunicorn {args.workers} workers x "
            f"{args.threads} threads; database {name}"
        )
        alone: list[float] = []
        watched: list[float] = []
        polls = Latencies()
        polling_s = 0.0
        cpu = {"server": 0.0, "database": 0.0}
        with stopping(worker, gunicorn):
            # Warm-up: caches, connections, the pool.
            _, _, ended_run = _lone_run(version, judge, dataset)
            asyncio.run(warm_up(base_url, token, "/api/runs/", clients=args.pollers, seconds=5))
            for round_ in range(args.rounds):
                # Alternate the order, so a drift in the machine's load affects both alike.
                for mode in ("alone", "polled") if round_ % 2 == 0 else ("polled", "alone"):
                    if mode == "alone":
                        status, seconds, _ = _lone_run(version, judge, dataset)
                        alone.append(seconds)
                    else:
                        meter = CpuMeter(gunicorn.process.pid, admin_url, name, "load-web")
                        status, seconds, stats, spent = asyncio.run(
                            _watched_run(base_url, token, version, judge, dataset, args)
                        )
                        for kind, value in meter.spent().items():
                            cpu[kind] += value
                        watched.append(seconds)
                        polling_s += spent
                        for kind, values in stats.samples.items():
                            polls.samples.setdefault(kind, []).extend(values)
                        polls.errors.update(stats.errors)
                    print(f"  round {round_ + 1} {mode:<6} run {status} in {seconds:.2f} s")
                    if status != "succeeded":
                        print(f"FAILED: a run ended {status}")
                        return 1
            meter = CpuMeter(gunicorn.process.pid, admin_url, name, "load-web")
            ended_polls = asyncio.run(
                _ended_run_polls(base_url, token, ended_run, args, seconds=10.0)
            )
            ended_cpu = meter.spent()
        print(f"polls over {polling_s:.1f} s of runs:")
        for line in polls.summary(polling_s):
            print(line)
        print(_cpu_line(cpu, polls.count()))
        print("the same pollers for 10 s on a run that has ended (stored accuracy summary):")
        for line in ended_polls.summary(10.0):
            print(line)
        print(_cpu_line(ended_cpu, ended_polls.count()))
        mean_alone, mean_watched = statistics.mean(alone), statistics.mean(watched)
        print(
            f"run duration: alone {mean_alone:.2f} s (mean of {alone}), with pollers "
            f"{mean_watched:.2f} s (mean of {watched}); ratio {mean_watched / mean_alone:.3f}"
        )
        print(machine_line())
        return 1 if polls.errors or ended_polls.errors else 0
    finally:
        try:
            from django.db import connections

            connections.close_all()
        finally:
            if not args.keep:
                recreate_database(admin_url, name, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
