"""Load: concurrent annotators asking for their next pair and submitting a label, over HTTP.

gunicorn (as the compose file runs it) on PostgreSQL, a database of the script's own
(``rs_load_annotators``). ``--annotators`` clients (20), each with its own API token, loop for
``--duration`` seconds (60) or until ``--max-requests`` requests in all: ``GET
/api/annotation-queues/{id}/next/`` then ``POST /api/annotations/`` with a choice. Every request
is timed; an error is any answer other than 200/201/204, or no answer. Afterwards the database
is checked: no slot held twice, no annotator given a pair twice, no pair over its overlap, one
annotation per closed assignment, and as many annotations as successful submissions.

Run from the repository root (loopback only)::

    .venv/bin/python bench/load/annotators.py --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    CpuMeter,
    Latencies,
    load_database_url,
    machine_line,
    make_member,
    make_pairs,
    recreate_database,
    sample_backends,
    server_env,
    setup_django,
    start_gunicorn,
    stopping,
    warm_up,
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds an annotator reads a pair before submitting (0: back to back)",
    )
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many")
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="server to use")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the load database")
    return parser.parse_args(argv)


def _seed(pairs: int, overlap: int, annotators: int) -> tuple[int, list[str]]:
    """A project, a dataset, annotators with tokens and a queue; returns (queue id, tokens)."""
    from apps.accounts.models import Project, Role
    from apps.annotations.services import annotation_queue_create

    project = Project.objects.create(name="Load", slug="load")
    admin, _ = make_member(project, "load-admin", Role.ADMIN)
    dataset = make_pairs(project, "load-pairs", pairs)
    members = [make_member(project, f"annotator{i:02d}", Role.ANNOTATOR) for i in range(annotators)]
    queue = annotation_queue_create(
        actor=admin,
        project=project,
        dataset=dataset,
        annotators=[user for user, _ in members],
        name="Load queue",
        overlap=overlap,
    )
    return queue.pk, [token for _, token in members]


async def _annotator(
    base_url: str,
    token: str,
    queue_id: int,
    deadline: float,
    budget: list[int],
    stats: Latencies,
    seed: int,
    think: float,
) -> int:
    """One annotator's loop; returns the labels it submitted."""
    import httpx

    rng = random.Random(seed)
    submitted = 0
    headers = {"Authorization": f"Token {token}"}
    if think > 0:
        # People do not all open the queue in the same millisecond: start within one reading
        # time, so the figures are those of the steady state, not of a burst of 20 first calls.
        await asyncio.sleep(rng.uniform(0, think))
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 2
            started = time.perf_counter()
            try:
                answer = await client.get(f"/api/annotation-queues/{queue_id}/next/")
            except httpx.HTTPError as exc:
                stats.record("next", time.perf_counter() - started, False, type(exc).__name__)
                continue
            stats.record(
                "next",
                time.perf_counter() - started,
                answer.status_code in (200, 204),
                str(answer.status_code),
            )
            if answer.status_code == 204:
                return submitted  # nothing left for this annotator
            if answer.status_code != 200:
                continue
            pair = answer.json()["pair"]["id"]
            if think > 0:
                # Reading times vary: exponential around the mean, so annotators drift apart.
                await asyncio.sleep(rng.expovariate(1 / think))
            body = {
                "queue": queue_id,
                "pair": pair,
                "choice": rng.choice(("A", "B", "tie")),
                "confidence": rng.randint(1, 5),
                "time_spent_ms": rng.randint(2000, 30000),
            }
            started = time.perf_counter()
            try:
                answer = await client.post("/api/annotations/", json=body)
            except httpx.HTTPError as exc:
                stats.record("submit", time.perf_counter() - started, False, type(exc).__name__)
                continue
            ok = answer.status_code == 201
            stats.record("submit", time.perf_counter() - started, ok, str(answer.status_code))
            submitted += ok
    return submitted


async def _load(
    base_url: str,
    tokens: list[str],
    queue_id: int,
    duration: float,
    max_requests: int,
    think: float,
    backends: tuple[str, str],
) -> tuple[Latencies, float, int, Counter[str]]:
    stats = Latencies()
    budget = [max_requests]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_backends(*backends, "load-web", stop))
    started = time.monotonic()
    deadline = started + duration
    submitted = await asyncio.gather(
        *(
            _annotator(base_url, token, queue_id, deadline, budget, stats, seed, think)
            for seed, token in enumerate(tokens)
        )
    )
    elapsed = time.monotonic() - started
    stop.set()
    return stats, elapsed, sum(submitted), await sampler


def _check_database(queue_id: int) -> dict[str, int]:
    """Counts that must be zero (and the totals they are checked against)."""
    from django.db import connection

    checks = {
        "slots held twice": """
            SELECT COUNT(*) FROM (SELECT 1 FROM annotations_assignment
            WHERE queue_id = %s AND status IN ('assigned', 'done')
            GROUP BY pair_id, slot HAVING COUNT(*) > 1) AS t""",
        "pair given twice to one annotator": """
            SELECT COUNT(*) FROM (SELECT 1 FROM annotations_assignment WHERE queue_id = %s
            GROUP BY pair_id, annotator_id HAVING COUNT(*) > 1) AS t""",
        "pairs over their overlap": """
            SELECT COUNT(*) FROM (SELECT 1 FROM annotations_assignment a
            JOIN annotations_annotationqueue q ON q.id = a.queue_id
            WHERE a.queue_id = %s AND a.status IN ('assigned', 'done')
            GROUP BY a.pair_id, q.overlap HAVING COUNT(*) > q.overlap) AS t""",
        "annotators with two open pairs": """
            SELECT COUNT(*) FROM (SELECT 1 FROM annotations_assignment
            WHERE queue_id = %s AND status = 'assigned'
            GROUP BY annotator_id HAVING COUNT(*) > 1) AS t""",
        "annotations per pair and annotator above one": """
            SELECT COUNT(*) FROM (SELECT 1 FROM annotations_annotation WHERE queue_id = %s
            GROUP BY pair_id, annotator_id HAVING COUNT(*) > 1) AS t""",
        "done assignments without exactly one annotation": """
            SELECT COUNT(*) FROM annotations_assignment a WHERE a.queue_id = %s
            AND a.status = 'done' AND (SELECT COUNT(*) FROM annotations_annotation n
            WHERE n.queue_id = a.queue_id AND n.pair_id = a.pair_id
            AND n.annotator_id = a.annotator_id) <> 1""",
        "annotations": "SELECT COUNT(*) FROM annotations_annotation WHERE queue_id = %s",
        "done assignments": """SELECT COUNT(*) FROM annotations_assignment
            WHERE queue_id = %s AND status = 'done'""",
    }
    results = {}
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql, [queue_id])
            results[name] = int(cursor.fetchone()[0])
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    database_url, name, admin_url = load_database_url(args.database_url, "annotators")
    recreate_database(admin_url, name)
    try:
        started = time.monotonic()
        setup_django(database_url, args.redis_url)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        queue_id, tokens = _seed(args.pairs, args.overlap, args.annotators)
        print(f"setup (migrate, seed) {time.monotonic() - started:.0f} s")
        env = server_env(database_url, args.redis_url, "load-web")
        gunicorn, base_url = start_gunicorn(env, workers=args.workers, threads=args.threads)
        with stopping(gunicorn):
            asyncio.run(
                warm_up(
                    base_url,
                    tokens[0],
                    f"/api/annotation-queues/{queue_id}/",
                    clients=args.annotators,
                    seconds=5,
                )
            )
            meter = CpuMeter(gunicorn.process.pid, admin_url, name, "load-web")
            client_cpu = time.process_time()
            print(machine_line())
            print(
                f"load: {args.annotators} annotators, next + submit, think time "
                f"{args.think:g} s, {args.duration:.0f} s, "
                f"gunicorn {args.workers} workers x {args.threads} threads, {args.pairs} pairs "
                f"x overlap {args.overlap}, database {name}"
            )
            stats, elapsed, submitted, backends = asyncio.run(
                _load(
                    base_url,
                    tokens,
                    queue_id,
                    args.duration,
                    args.max_requests,
                    args.think,
                    (admin_url, name),
                )
            )
            spent = meter.spent()
            client_cpu = time.process_time() - client_cpu
            print(machine_line())
        print(f"elapsed {elapsed:.1f} s, {stats.count()} requests, {submitted} labels submitted")
        for line in stats.summary(elapsed):
            print(line)
        samples = sum(backends.values()) or 1
        print(
            "  web connections' backends, share of samples: "
            + ", ".join(f"{k} {100 * v / samples:.0f}%" for k, v in backends.most_common())
        )
        requests = max(stats.count(), 1)
        print(
            f"  cpu per request: web server {1000 * spent['server'] / requests:.1f} ms, "
            f"PostgreSQL {1000 * spent['database'] / requests:.1f} ms, load client "
            f"{1000 * client_cpu / requests:.1f} ms"
        )
        from django.db import connection

        connection.close()
        checks = _check_database(queue_id)
        for check, value in checks.items():
            print(f"  db: {check}: {value}")
        problems = {
            k: v for k, v in checks.items() if v and k not in ("annotations", "done assignments")
        }
        if checks["annotations"] != submitted or checks["done assignments"] != submitted:
            problems["annotations != successful submissions"] = submitted
        if problems or stats.errors:
            print(f"FAILED: {problems or dict(stats.errors)}")
            return 1
        print("ok: zero errors, no slot or pair handed out twice")
        return 0
    finally:
        try:
            from django.db import connections

            connections.close_all()
        finally:
            if not args.keep:
                recreate_database(admin_url, name, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
