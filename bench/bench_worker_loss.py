"""Benchmark: a run whose whole worker dies, from the kill to the run's end, default settings.

A run of ``--pairs`` pairs (300: 600 judgments, chunks of the default size) against the loopback
OpenAI-compatible server (``--latency`` 0.4 s per call, judge concurrency 4), judged by a Celery
worker on ``default,api`` with an embedded beat, as the compose file's worker and beat run. Once
the run has written its first chunk and the others are in flight, the worker's master and pool
processes are SIGKILLed together (a machine or container dying), and a new worker with beat is
started at once. Nothing else is done by hand: the new worker takes what is still queued, and
the sweep finds the dead worker's silent claims and sends their chunks again.

Printed per round and as medians: seconds from the kill to the run's end; of which the new
worker's start, the wait until the sweep sent the orphaned chunks again (stale window plus
sweep period), and the work that remained (judgments still pending at the kill, and how long
they took once taken up); what the run page said while the run waited; the final counts (600
judgments, none twice). The liveness settings are the defaults of ``rubricstudio/settings.py``
unless overridden in the environment.

Run from the repository root with PostgreSQL and Redis::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rubricstudio \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_worker_loss.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    Process,
    descendants,
    fake_openai_server,
    machine_line,
    make_pairs,
    make_reference_set,
    make_version,
    recreate_database,
    server_env,
    setup_django,
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.4, help="seconds per judge call")
    parser.add_argument("--concurrency", type=int, default=4, help="judge calls in flight")
    parser.add_argument("--workers", type=int, default=4, help="worker pool processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    return parser.parse_args(argv)


def _worker(env: dict[str, str], concurrency: int, schedule: Path) -> tuple[Process, float]:
    """A worker with an embedded beat on ``default,api``; returns it and its start seconds."""
    from rubricstudio.celery import app, worker_command

    name = f"loss-{time.monotonic_ns()}@bench"
    started = time.monotonic()
    process = Process(
        "worker",
        worker_command(
            "default,api",
            concurrency,
            loglevel="WARNING",
            name=name,
            extra=["-B", "--schedule", str(schedule)],
        ),
        env,
    )
    deadline = time.monotonic() + 120
    while not app.control.ping(destination=[name], timeout=1.0):
        process.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker did not answer:\n{process.log_path.read_text()}")
    return process, time.monotonic() - started


def _kill_whole(process: Process) -> list[int]:
    """SIGKILL the worker's master and every process under it, all at once."""
    pids = [process.process.pid, *descendants(process.process.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.process.wait(timeout=30)
    process.stop()
    return pids


def _round(
    env: dict[str, str], args: argparse.Namespace, objects: dict[str, Any]
) -> dict[str, Any]:
    from django.db.models import Count

    from apps.core.liveness import forget_queue_states
    from apps.judging.models import ChunkStatus, JudgingRun, Judgment, JudgmentStatus, RunChunk
    from apps.judging.selectors import run_waiting
    from apps.judging.services import run_start

    schedule = Path(tempfile.mkdtemp(prefix="bench-beat-")) / "schedule"
    worker, _ = _worker(env, args.workers, schedule)
    run = run_start(
        actor=None,
        rubric_version=objects["version"],
        judge=objects["judge"],
        reference_set=objects["reference_set"],
        use_cache=False,
    )
    chunks = RunChunk.objects.filter(run=run)
    started = time.monotonic()
    # Kill once a chunk is written while others are in flight (claimed, partly judged).
    while not (
        chunks.filter(status=ChunkStatus.DONE).exists()
        and chunks.filter(status=ChunkStatus.RUNNING).exists()
    ):
        worker.check_alive()
        if time.monotonic() - started > 600:
            raise RuntimeError("the run never had a chunk written and another in flight")
        time.sleep(0.05)
    throughput = JudgingRun.objects.get(pk=run.pk).done / (time.monotonic() - started)
    killed = _kill_whole(worker)
    kill_at = time.monotonic()
    at_kill = JudgingRun.objects.get(pk=run.pk)
    orphans = dict(chunks.filter(status=ChunkStatus.RUNNING).values_list("index", "attempts"))
    pending = Judgment.objects.filter(run=run, status=JudgmentStatus.PENDING).count()

    forget_queue_states()
    replacement, start_s = _worker(env, args.workers, schedule)
    resent_at = None
    said = None
    try:
        while True:
            state = JudgingRun.objects.get(pk=run.pk)
            if state.is_finished:
                end_at = time.monotonic()
                break
            if resent_at is None:
                claims = dict(chunks.filter(index__in=orphans).values_list("index", "attempts"))
                if all(claims[i] > orphans[i] for i in orphans):
                    resent_at = time.monotonic()
            if said is None:
                said = run_waiting(state)
            if time.monotonic() - kill_at > 1800:
                raise RuntimeError("the run did not end within 30 minutes of the kill")
            time.sleep(0.1)
    finally:
        replacement.stop()

    judgments = Judgment.objects.filter(run=run)
    doubled = judgments.values("pair_id", "order").annotate(n=Count("id")).filter(n__gt=1).count()
    resent_s = (resent_at - kill_at) if resent_at is not None else float("nan")
    return {
        "status": state.status,
        "done": state.done,
        "total": state.total,
        "judgments": judgments.count(),
        "doubled": doubled,
        "killed": killed,
        "done_at_kill": at_kill.done,
        "pending_at_kill": pending,
        "orphans": sorted(orphans),
        "throughput": throughput,
        "kill_to_end_s": end_at - kill_at,
        "worker_start_s": start_s,
        "kill_to_resent_s": resent_s,
        "resent_to_end_s": end_at - resent_at if resent_at is not None else float("nan"),
        "said": said or "(nothing: the run was never silent for the stale window)",
    }


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    base = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'rubricstudio'}_bench_worker_loss"
    database_url = urlunsplit(parts._replace(path="/" + name))
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    recreate_database(admin_url, name)
    try:
        setup_django(database_url, redis_url)
        from django.conf import settings

        from apps.accounts.models import Project
        from apps.judging.models import JudgeConfig
        from rubricstudio.celery import app

        with app.connection_for_write() as conn:
            for queue in ("default", "api"):
                # A queue never declared has nothing to purge.
                with contextlib.suppress(Exception):
                    conn.default_channel.queue_purge(queue)
        print(machine_line())
        print(
            f"liveness: beat every {settings.LIVENESS_HEARTBEAT_S:g} s, stale after "
            f"{settings.LIVENESS_STALE_AFTER_S:g} s, sweep every {settings.LIVENESS_SWEEP_S:g} s"
        )
        with fake_openai_server(args.latency) as (base_url, _pid):
            project = Project.objects.create(name="Worker loss", slug="worker-loss")
            dataset = make_pairs(project, "loss", args.pairs)
            judge = JudgeConfig.objects.create(
                project=project,
                name="Loopback endpoint",
                backend="openai",
                model="bench-judge",
                base_url=base_url,
                concurrency=args.concurrency,
            )
            objects = {
                "version": make_version(project),
                "reference_set": make_reference_set(dataset),
                "judge": judge,
            }
            env = server_env(database_url, redis_url, "bench-worker-loss")
            print(
                f"{args.pairs} pairs ({2 * args.pairs} judgments), {args.latency} s per call, "
                f"judge concurrency {args.concurrency}, {args.workers} worker processes, "
                f"{args.rounds} rounds"
            )
            rounds = []
            for number in range(1, args.rounds + 1):
                result = _round(env, args, objects)
                rounds.append(result)
                print(
                    f"round {number}: {result['status']}, {result['judgments']} judgments "
                    f"({result['doubled']} doubled), done {result['done']}/{result['total']}; "
                    f"killed pids {result['killed']} at {result['done_at_kill']} written, "
                    f"{result['pending_at_kill']} pending, chunks {result['orphans']} in flight; "
                    f"kill -> end {result['kill_to_end_s']:.1f} s (new worker up in "
                    f"{result['worker_start_s']:.1f} s, orphans sent again after "
                    f"{result['kill_to_resent_s']:.1f} s, then {result['resent_to_end_s']:.1f} s "
                    f"of work); before the kill {result['throughput']:.1f} judgments/s"
                )
                print(f"  the page said: {result['said']}")
        median = statistics.median
        print(
            f"median over {len(rounds)} rounds: kill -> end "
            f"{median(r['kill_to_end_s'] for r in rounds):.1f} s; kill -> orphans sent again "
            f"{median(r['kill_to_resent_s'] for r in rounds):.1f} s; then "
            f"{median(r['resent_to_end_s'] for r in rounds):.1f} s of work; "
            f"pending at kill {median(r['pending_at_kill'] for r in rounds):.0f} judgments; "
            f"remaining work at the pre-kill rate "
            f"{median(r['pending_at_kill'] / r['throughput'] for r in rounds):.1f} s"
        )
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate_database(admin_url, name, drop_only=True)


if __name__ == "__main__":
    main()
