"""Benchmark: the judging pipeline end to end, against one task per judgment.

A real Celery worker (prefork), PostgreSQL and Redis, the offline demo judge. The script creates a
database of its own (``<DATABASE_URL's database>_bench_pipeline``, dropped at the end unless
``--keep``), migrates it, writes synthetic pairs, and measures:

* **pipeline**: ``run_start`` on a reference set of ``--pairs`` pairs (two judgments each) until
  the run row says ``succeeded``: work items written by one ``INSERT ... SELECT``, chunks of
  ``--chunk`` judgments dispatched after commit, each chunk judged in one batch and written with
  one batched UPDATE plus one counter update. Judgments per second from the start call to the
  finished run, and the worker's CPU time per judgment, split into the judge's own time
  (measured in this process on the same requests) and the rest (the pipeline's overhead);
* **cached re-run**: the same run again, every answer copied from the judgment cache;
* **naive baseline**: one task per judgment that loads the run, rubric and pair, builds a judge,
  judges one request, INSERTs one row and updates the run's counter. Too slow for the full size,
  so it is measured on ``--naive`` judgments (the output says so); the ratio compares rates;
* **memory**: the peak resident set (``VmHWM``) of the worker's pool processes after a run of
  ``--small`` pairs and after one of ``--pairs`` pairs, each in a fresh worker: flat when chunks
  stream.

Run from the repository root with PostgreSQL and Redis::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rubricstudio \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_pipeline.py [--pairs 20000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from celery import shared_task

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    cpu_seconds,
    descendants,
    make_pairs,
    make_reference_set,
    make_version,
    recreate_database,
)

NAIVE_TASK = "bench.naive_judge_one"


@shared_task(name=NAIVE_TASK, ignore_result=True)
def naive_judge_one(run_id: int, pair_id: int, order: str) -> None:
    """The baseline: one task per judgment, nothing shared, one INSERT per result."""
    from django.db.models import F

    from apps.datasets.models import Pair
    from apps.judging.backends.base import BackendConfig, backend_class
    from apps.judging.models import JudgingRun, Judgment
    from apps.judging.prompting import make_request
    from apps.judging.protocol import to_pair_verdict
    from apps.judging.types import PairText

    run = JudgingRun.objects.select_related("judge", "rubric_version").get(pk=run_id)
    pair = Pair.objects.get(pk=pair_id)
    spec = run.rubric_version.to_spec()
    backend = backend_class(run.judge.backend)(
        BackendConfig(backend=run.judge.backend, params=dict(run.judge.params))
    )
    text = PairText(pair.prompt, pair.response_a, pair.response_b, pair.domain)
    request = make_request(key=str(pair_id), rubric=spec, pair=text, order=order)  # type: ignore[arg-type]
    (result,) = backend.judge_batch([request])
    Judgment.objects.create(
        run=run,
        pair=pair,
        order=order,
        status="done",
        verdict=to_pair_verdict(result.verdict, order),  # type: ignore[arg-type]
        p_first=result.p_first,
        rationale=result.rationale,
        raw_output=result.raw_output,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
    )
    JudgingRun.objects.filter(pk=run_id).update(done=F("done") + 1)


# --- setup -------------------------------------------------------------------------------------


def _bench_url(url: str) -> tuple[str, str, str]:
    """(bench database URL, its name, a URL of the server's maintenance database)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_bench_pipeline"
    bench = urlunsplit(parts._replace(path="/" + name))
    admin = urlunsplit(parts._replace(path="/postgres"))
    return bench, name, admin


def _make_reference_set(project: Any, name: str, n_pairs: int, seed: int) -> Any:
    """``n_pairs`` synthetic pairs (half the harmlessness ones with a refusal) and a
    reference snapshot of all of them."""
    return make_reference_set(make_pairs(project, name, n_pairs, seed=seed, refusal_share=0.5))


# --- the worker --------------------------------------------------------------------------------


class Worker:
    """A ``celery worker`` subprocess on the bench database (prefork pool)."""

    def __init__(self, concurrency: int, log_dir: Path) -> None:
        from rubricstudio.celery import worker_command

        self.log = log_dir / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log.open("w")
        self.process = subprocess.Popen(
            worker_command(
                "default",
                concurrency,
                loglevel="WARNING",
                name=f"bench-{time.monotonic_ns()}@%h",
                alone=True,
                extra=("-I", "bench.bench_pipeline"),
            ),
            cwd=REPO,
            env=dict(os.environ),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not self.children() or not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        # With loglevel WARNING the banner is not printed; the pool being up is enough, and a
        # ping through the broker proves the consumer is listening.
        from rubricstudio.celery import app

        replies = app.control.ping(timeout=1.0)
        return bool(replies)

    def children(self) -> list[int]:
        return descendants(self.process.pid)

    def peak_rss_mib(self) -> list[float]:
        """VmHWM of each pool process, in MiB (psutil reports the current RSS, not the peak)."""
        peaks = []
        for pid in self.children():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def cpu_seconds(self) -> float:
        """User + system CPU time of the pool processes so far."""
        return sum(cpu_seconds(pid) for pid in self.children())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


# --- measurements ------------------------------------------------------------------------------


def _wait_finished(run_id: int, timeout: float = 3600) -> Any:
    from apps.judging.models import TERMINAL_RUN_STATUSES, JudgingRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = JudgingRun.objects.filter(pk=run_id).values_list("status", flat=True).get()
        if status in TERMINAL_RUN_STATUSES:
            return JudgingRun.objects.get(pk=run_id)
        time.sleep(0.05)
    raise RuntimeError(f"run {run_id} did not finish within {timeout}s")


def _timed_run(version: Any, judge: Any, reference: Any, *, use_cache: bool = True) -> Any:
    from apps.judging import services

    started = time.perf_counter()
    run = services.run_start(
        actor=None,
        rubric_version=version,
        judge=judge,
        reference_set=reference,
        purpose="bench",
        use_cache=use_cache,
    )
    finished = _wait_finished(run.pk)
    finished.elapsed = time.perf_counter() - started
    if finished.status != "succeeded" or finished.done != finished.total:
        raise RuntimeError(f"run {run.pk} ended {finished.status}: {finished.error}")
    return finished


def _judge_only_seconds(version: Any, judge: Any, reference: Any, sample: int) -> float:
    """Seconds per judgment of the offline judge alone, in this process, on ``sample`` requests."""
    from apps.datasets.models import Pair
    from apps.judging.prompting import make_request
    from apps.judging.services import judge_backend
    from apps.judging.types import PairText

    spec = version.to_spec()
    rows = Pair.objects.filter(reference_items__reference_set=reference).values_list(
        "pk", "prompt", "response_a", "response_b", "domain"
    )[: sample // 2]
    requests = [
        make_request(key=f"{pk}:{o}", rubric=spec, pair=PairText(p, a, b, d), order=o)
        for pk, p, a, b, d in rows
        for o in ("AB", "BA")
    ]
    backend = judge_backend(judge)
    backend.judge_batch(requests[:50])  # warm the rubric compile cache
    started = time.process_time()
    for i in range(0, len(requests), 250):
        backend.judge_batch(requests[i : i + 250])
    return (time.process_time() - started) / len(requests)


def _naive(version: Any, judge: Any, reference: Any) -> tuple[int, float]:
    from apps.datasets.models import ReferenceItem
    from apps.judging.models import JudgingRun

    pair_ids = list(
        ReferenceItem.objects.filter(reference_set=reference).values_list("pair_id", flat=True)
    )
    total = 2 * len(pair_ids)
    run = JudgingRun.objects.create(
        project=judge.project,
        rubric_version=version,
        judge=judge,
        reference_set=reference,
        purpose="bench-naive",
        total=total,
    )
    started = time.perf_counter()
    for pair_id in pair_ids:
        for order in ("AB", "BA"):
            naive_judge_one.delay(run.pk, pair_id, order)
    while JudgingRun.objects.filter(pk=run.pk).values_list("done", flat=True).get() < total:
        time.sleep(0.05)
    return total, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20_000, help="pairs of the main run")
    parser.add_argument("--small", type=int, default=5_000, help="pairs of the small memory run")
    parser.add_argument("--naive", type=int, default=2_000, help="judgments of the baseline")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--chunk", type=int, default=250, help="judgments per chunk")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        sys.exit("bench_pipeline needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL.")
    bench_url, name, admin_url = _bench_url(database_url)
    recreate_database(admin_url, name)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubricstudio.settings")
    os.environ["LOG_LEVEL"] = "WARNING"

    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.models import Project
    from apps.judging.models import JudgeConfig
    from rubricstudio.celery import app

    call_command("migrate", verbosity=0)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")

    print(
        f"database {name} (PostgreSQL), broker {redis_url.rsplit('@', 1)[-1]}, "
        f"{args.concurrency} worker processes, chunks of {args.chunk}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    project = Project.objects.create(name="Bench", slug="bench")
    version = make_version(project)
    judge = JudgeConfig.objects.create(
        project=project,
        name="Offline bench judge",
        backend="offline",
        params={"chunk_size": args.chunk},
    )
    built = time.perf_counter()
    warm = [_make_reference_set(project, f"warm{i}", 200, seed=10 + i) for i in range(2)]
    small = _make_reference_set(project, "small", args.small, seed=2)
    big = _make_reference_set(project, "big", args.pairs, seed=3)
    naive = _make_reference_set(project, "naive", args.naive // 2, seed=4)
    print(
        f"wrote {2 * 200 + args.small + args.pairs + args.naive // 2:,} pairs in "
        f"{time.perf_counter() - built:.1f} s (not part of the figures)"
    )

    log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    results: dict[str, Any] = {}
    try:
        # Memory, small run: a fresh worker, warmed up on a few pairs.
        worker = Worker(args.concurrency, log_dir)
        _timed_run(version, judge, warm[0], use_cache=False)
        run = _timed_run(version, judge, small)
        results["small"] = (run, worker.peak_rss_mib())
        worker.stop()

        # Main run, in a fresh worker: throughput, CPU, memory.
        worker = Worker(args.concurrency, log_dir)
        _timed_run(version, judge, warm[1], use_cache=False)
        cpu_before = worker.cpu_seconds()
        run = _timed_run(version, judge, big)
        cpu = worker.cpu_seconds() - cpu_before
        results["big"] = (run, worker.peak_rss_mib(), cpu)
        results["cached"] = _timed_run(version, judge, big)
        results["naive"] = _naive(version, judge, naive)
        worker.stop()
        results["judge_only"] = _judge_only_seconds(version, judge, big, sample=4000)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate_database(admin_url, name, drop_only=True)

    judge_s = results["judge_only"]
    big_run, big_rss, big_cpu = results["big"]
    small_run, small_rss = results["small"]
    cached = results["cached"]
    naive_n, naive_s = results["naive"]
    rate = big_run.total / big_run.elapsed
    naive_rate = naive_n / naive_s
    per_judgment_cpu = big_cpu / big_run.total
    print()
    print(
        f"pipeline: {args.pairs:,} pairs = {big_run.total:,} judgments in {big_run.elapsed:.2f} s "
        f"(run_start to succeeded): {rate:,.0f} judgments/s"
    )
    print(
        f"  worker CPU {per_judgment_cpu * 1e6:.0f} us/judgment, of which the offline judge "
        f"itself {judge_s * 1e6:.0f} us (measured in-process on the same requests) and the "
        f"pipeline {max(per_judgment_cpu - judge_s, 0) * 1e6:.0f} us"
    )
    print(
        f"cached re-run: {cached.total:,} judgments, {cached.cached:,} from the cache, in "
        f"{cached.elapsed:.2f} s: {cached.total / cached.elapsed:,.0f} judgments/s"
    )
    print(
        f"naive baseline (one task per judgment, one INSERT each), measured on a subset of "
        f"{naive_n:,} judgments: {naive_s:.2f} s, {naive_rate:,.0f} judgments/s"
    )
    print(f"ratio pipeline / naive: {rate / naive_rate:.1f}x")
    print(
        "worker peak RSS per pool process (VmHWM): "
        f"{small_run.total:,} judgments: {', '.join(f'{m:.0f}' for m in small_rss)} MiB; "
        f"{big_run.total:,} judgments: {', '.join(f'{m:.0f}' for m in big_rss)} MiB"
    )


if __name__ == "__main__":
    main()
