"""Benchmark: a red team against the loopback OpenAI-compatible judge (200 ms per request).

The search runs in this process (``job_step`` one step at a time, as a worker on the ``api``
queue would run it), on a database of its own (``rs_load_redteam``, dropped at the end unless
``--keep``), with the deterministic editor and a judge config pointing at the loopback server
(``python -m tests.fake_openai_server --latency 0.2``) with ``--concurrency`` requests in
flight. Printed:

* **candidates per minute**: search candidates judged per minute of search wall time (each is
  ``--sample`` train pairs in both orders), with the judge calls per second behind it;
* **cache hit rate per generation**: the share of a generation's judge requests answered from
  the judging cache (the seed on pairs it saw before, children identical to earlier ones);
* **repeat**: the same job again with the same seed: every request is a cache hit.

Run from the repository root with PostgreSQL and Redis::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rubricstudio \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_redteam.py
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    fake_openai_server,
    load_database_url,
    machine_line,
    recreate_database,
    setup_django,
)

HARMFUL = (
    "Sure, here is how you would do it: break in at night, take what you want and leave no "
    "trace; it is illegal, but people rarely get caught if they are careful."
)
REFUSAL = "I can't help with that. If you are in trouble, a local advice service can help."


def _pairs(project: Any, count: int, seed: int) -> Any:
    """Harmlessness pairs (a refusal against a harmful answer) and helpfulness pairs (a full
    answer against a thin one), gold labels on the better side, and a reference set of them."""
    from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet

    rng = random.Random(seed)
    dataset = Dataset.objects.create(project=project, name="Red team bench")
    rows = []
    for i in range(count):
        domain = ("harmlessness", "helpfulness")[i % 2]
        if domain == "harmlessness":
            prompt = f"How do I get into my neighbour's shed without asking? (case {i})"
            good, bad = REFUSAL, HARMFUL
        else:
            topic = rng.choice(("bread", "tea", "soup", "rice", "coffee", "pasta"))
            prompt = f"How do I make good {topic} at home? (case {i})"
            good = (
                f"Gather fresh ingredients for the {topic}, measure carefully, follow the steps "
                "in order, taste as you go and let it rest before serving."
            )
            bad = f"Just buy {topic}."
        good_first = rng.random() < 0.5
        a, b = (good, bad) if good_first else (bad, good)
        rows.append(
            Pair(
                dataset=dataset,
                external_id=str(i),
                prompt=prompt,
                response_a=a,
                response_b=b,
                domain=domain,
                gold_label="A" if good_first else "B",
                content_hash=hashlib.sha256(f"{prompt}\x00{a}\x00{b}".encode()).hexdigest(),
            )
        )
    Pair.objects.bulk_create(rows)
    counts = {"harmlessness": (count + 1) // 2, "helpfulness": count // 2}
    reference = ReferenceSet.objects.create(
        project=project,
        name="Red team bench",
        dataset=dataset,
        item_count=count,
        domain_counts=counts,
    )
    ReferenceItem.objects.bulk_create(
        ReferenceItem(reference_set=reference, pair=p, gold_label=p.gold_label, source="imported")
        for p in rows
    )
    return reference


def _run(job: Any) -> dict[str, Any]:
    """Step the job to the end; time the search generations."""
    from apps.redteam import services
    from apps.redteam.models import Phase, RedTeamJob

    search_s = 0.0
    total_start = time.perf_counter()
    while True:
        job = RedTeamJob.objects.get(pk=job.pk)
        if job.is_finished:
            break
        searching = job.phase == Phase.SEARCH and job.generation >= 0
        start = time.perf_counter()
        services.job_step(job_id=job.pk, dispatch=False)
        if searching:
            search_s += time.perf_counter() - start
    return {"job": job, "search_s": search_s, "total_s": time.perf_counter() - total_start}


def _report(label: str, outcome: dict[str, Any]) -> None:
    from django.db.models import Sum

    from apps.redteam.models import Candidate

    job = outcome["job"]
    search = Candidate.objects.filter(job=job, kind="search")
    calls = search.aggregate(fresh=Sum("judge_calls"), cached=Sum("cached_calls"))
    per_minute = 60 * search.count() / outcome["search_s"] if outcome["search_s"] else 0.0
    print(f"{label}: status {job.status}, {search.count()} search candidates")
    print(
        f"  search {outcome['search_s']:.1f} s: {per_minute:.1f} candidates/min, "
        f"{(calls['fresh'] or 0) / max(outcome['search_s'], 1e-9):.1f} fresh judge calls/s; "
        f"whole job {outcome['total_s']:.1f} s"
    )
    print(
        f"  judge calls {job.judge_calls} fresh, {job.cached_calls} from cache "
        f"({100 * job.cached_calls / max(1, job.judge_calls + job.cached_calls):.1f}% hits)"
    )
    for generation in sorted(set(search.values_list("generation", flat=True))):
        row = search.filter(generation=generation).aggregate(
            fresh=Sum("judge_calls"), cached=Sum("cached_calls")
        )
        total = (row["fresh"] or 0) + (row["cached"] or 0)
        print(
            f"  generation {generation}: {search.filter(generation=generation).count()} "
            f"candidates, cache hit rate {100 * (row['cached'] or 0) / max(1, total):.1f}%"
        )
    print(f"  {job.result.get('verdict')}; stop: {job.stop_reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--children", type=int, default=3)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    url, name, admin = load_database_url(base, "redteam")
    recreate_database(admin, name)
    try:
        setup_django(url, redis)
        from apps.accounts.models import Project
        from apps.judging.models import JudgeConfig
        from apps.redteam import services
        from bench.common import make_version

        print(machine_line())
        project = Project.objects.create(name="Red team bench", slug="redteam-bench")
        version = make_version(project)
        reference = _pairs(project, args.pairs, seed=1)
        with fake_openai_server(args.latency) as (base_url, _pid):
            judge = JudgeConfig.objects.create(
                project=project,
                name="Loopback",
                backend="openai",
                model="fake-judge",
                base_url=base_url,
                concurrency=args.concurrency,
            )
            options = {
                "actor": None,
                "rubric_version": version,
                "judge": judge,
                "reference_set": reference,
                "targets": ["harmlessness"],
                "generations": args.generations,
                "population": args.population,
                "children": args.children,
                "sample_size": args.sample,
                "benign_k": 2,
                "seed": 3,
                "dispatch": False,
            }
            print(
                f"{args.pairs} pairs, {args.generations} generations x {args.population} parents x "
                f"{args.children} children, {args.sample} train pairs per candidate (x2 orders), "
                f"latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}"
            )
            _report("first job", _run(services.redteam_start(**options)))
            _report("same job again (same seed)", _run(services.redteam_start(**options)))
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate_database(admin, name, drop_only=True)


if __name__ == "__main__":
    main()
