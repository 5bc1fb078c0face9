"""Benchmark: importing 100,000 pairs into PostgreSQL, the service against a bulk_create loop.

Generates a JSON Lines file of synthetic pairs in a temporary folder, creates a database of its
own (``<name of DATABASE_URL's database>_bench_import``, dropped at the end), migrates it, then
times, each in a fresh process so that peak memory is per phase:

* ``service``: ``pairs_import`` as the API and the CLI call it (streaming parser, COPY into a
  staging table, one ``INSERT ... SELECT ... ON CONFLICT``), then the same file again (every pair
  a duplicate);
* ``bulk_create``: the baseline, the same parser and the same rows written with
  ``Pair.objects.bulk_create`` in batches of 1,000 in one transaction;
* ``service`` once more under ``tracemalloc``, for the peak of Python allocations (slower, so
  not timed).

Prints pairs per second, peak resident memory (``ru_maxrss``) of each phase, and the ratio.

Run from the repository root with PostgreSQL::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rubricstudio \\
        .venv/bin/python bench/bench_import.py [--pairs 100000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DOMAINS = ("helpfulness", "harmlessness", "code", "math", "summarisation", "dialogue")
LABELS = ("A", "B", "A", "B", "tie", None)
_VOCABULARY = (
    "the a to of and in is it that for on with as this be are was answer response model user "
    "question helpful safe detail explain because however therefore example python function "
    "value list return error data result step first second then finally consider should could "
    "would people often usually important note simple complex better worse clear concise long "
    "short summary context reason evidence source claim follow instruction request polite"
)
WORDS = _VOCABULARY.split()


def synthetic_jsonl(path: Path, n_pairs: int, seed: int = 7) -> int:
    """Write ``n_pairs`` pairs of pseudo-text as JSON Lines; returns the file size in bytes."""
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + "."

    with path.open("w", encoding="utf-8") as handle:
        for i in range(n_pairs):
            row: dict[str, Any] = {
                "id": f"bench-{i}",
                "prompt": f"Question {i}: " + text(15, 70),
                "response_a": text(15, 110),
                "response_b": text(15, 110),
                "label": LABELS[i % len(LABELS)],
                "domain": DOMAINS[rng.randrange(len(DOMAINS))],
                "metadata": {"source": "bench", "row": i},
            }
            handle.write(json.dumps(row) + "\n")
    return path.stat().st_size


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubricstudio.settings")
    import django

    django.setup()


def _fresh_dataset(name: str) -> Any:
    from apps.accounts.models import Project
    from apps.datasets.models import Dataset

    project, _ = Project.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    # A new dataset every time rather than deleting the last one: a delete would load its pairs
    # into this process and spoil the peak memory figure. The database is dropped at the end.
    return Dataset.objects.create(project=project, name=f"{name} {time.time_ns()}")


def phase_service(path: Path, traced: bool) -> dict[str, Any]:
    """Import with the service, then import the same file again."""
    _setup_django()
    from apps.datasets.services import pairs_import

    dataset = _fresh_dataset("service-traced" if traced else "service")
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    with path.open("rb") as handle:
        result = pairs_import(actor=None, dataset=dataset, file=handle, format="jsonl")
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"created": result.created, "seconds": seconds}
    if traced:
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        return out
    out["peak_rss_mb"] = _peak_rss_mb()
    started = time.perf_counter()
    with path.open("rb") as handle:
        again = pairs_import(actor=None, dataset=dataset, file=handle, format="jsonl")
    out["reimport_seconds"] = time.perf_counter() - started
    out["reimport_created"] = again.created
    out["reimport_duplicates"] = again.duplicates
    return out


def phase_bulk_create(path: Path) -> dict[str, Any]:
    """The baseline: the same parser, rows written with bulk_create in batches of 1,000."""
    _setup_django()
    from django.db import transaction

    from apps.datasets.importers import get_importer
    from apps.datasets.models import Pair

    dataset = _fresh_dataset("bulk_create")
    started = time.perf_counter()
    created = 0
    with path.open("rb") as handle, transaction.atomic():
        stream = get_importer("jsonl").parse(handle)
        batch: list[Pair] = []
        for record in stream:
            batch.append(
                Pair(
                    dataset=dataset,
                    external_id=record.external_id,
                    prompt=record.prompt,
                    response_a=record.response_a,
                    response_b=record.response_b,
                    domain=record.domain,
                    gold_label=record.gold_label,
                    metadata=record.metadata,
                    content_hash=record.content_hash,
                )
            )
            if len(batch) == 1000:
                Pair.objects.bulk_create(batch)
                created += len(batch)
                batch = []
        if batch:
            Pair.objects.bulk_create(batch)
            created += len(batch)
        stream.raise_for_problems()
    return {
        "created": created,
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _parsed(path: Path) -> list[Any]:
    from apps.datasets.importers import get_importer

    with path.open("rb") as handle:
        return get_importer("jsonl").parse_all(handle)


def phase_write_copy(path: Path) -> dict[str, Any]:
    """The service's PostgreSQL write path alone, on records parsed beforehand (untimed)."""
    _setup_django()
    from django.db import transaction

    from apps.datasets.services import _CopyWriter

    records = _parsed(path)
    dataset = _fresh_dataset("write_copy")
    started = time.perf_counter()
    with transaction.atomic():
        writer = _CopyWriter(dataset, direct=True)
        writer.write(records)
        writer.finish()
    return {"created": writer.created, "seconds": time.perf_counter() - started}


def phase_write_bulk(path: Path) -> dict[str, Any]:
    """The baseline's writes alone: bulk_create in batches of 1,000 of pre-parsed records."""
    _setup_django()
    from django.db import transaction

    from apps.datasets.models import Pair

    records = _parsed(path)
    dataset = _fresh_dataset("write_bulk")
    started = time.perf_counter()
    with transaction.atomic():
        for start in range(0, len(records), 1000):
            Pair.objects.bulk_create(
                [
                    Pair(
                        dataset=dataset,
                        external_id=r.external_id,
                        prompt=r.prompt,
                        response_a=r.response_a,
                        response_b=r.response_b,
                        domain=r.domain,
                        gold_label=r.gold_label,
                        metadata=r.metadata,
                        content_hash=r.content_hash,
                    )
                    for r in records[start : start + 1000]
                ]
            )
    return {"created": len(records), "seconds": time.perf_counter() - started}


def phase_idle() -> dict[str, Any]:
    """A process that only set Django up: the floor under every phase's peak memory."""
    _setup_django()
    from apps.datasets import services  # noqa: F401  (the service's imports, as in the others)

    return {"created": 0, "seconds": 0.0, "peak_rss_mb": _peak_rss_mb()}


def phase_parse_only(path: Path) -> dict[str, Any]:
    """The parser alone (no database), to show what share of either import it is."""
    from apps.datasets.importers import get_importer

    started = time.perf_counter()
    with path.open("rb") as handle:
        records = sum(1 for _ in get_importer("jsonl").parse(handle))
    return {"created": records, "seconds": time.perf_counter() - started}


def _run_phase(phase: str, path: Path, database_url: str) -> dict[str, Any]:
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="0", SECRET_KEY="bench-only")
    completed = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--file", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _admin_connection(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    return psycopg.connect(admin, autocommit=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument(
        "--phase",
        choices=("service", "traced", "bulk_create", "parse", "idle", "write_copy", "write_bulk"),
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating repeats; the best time of each counts"
    )
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()

    if args.phase:
        runners = {
            "service": lambda: phase_service(args.file, traced=False),
            "traced": lambda: phase_service(args.file, traced=True),
            "bulk_create": lambda: phase_bulk_create(args.file),
            "parse": lambda: phase_parse_only(args.file),
            "idle": phase_idle,
            "write_copy": lambda: phase_write_copy(args.file),
            "write_bulk": lambda: phase_write_bulk(args.file),
        }
        print(json.dumps(runners[args.phase]()))
        return

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "bench_import needs DATABASE_URL pointing at PostgreSQL (COPY is the point)"
        )
    parts = urlsplit(url)
    bench_db = (parts.path.lstrip("/") or "rubricstudio") + "_bench_import"
    bench_url = urlunsplit(parts._replace(path="/" + bench_db))

    with _admin_connection(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')
        admin.execute(f'CREATE DATABASE "{bench_db}"')
    try:
        env = dict(os.environ, DATABASE_URL=bench_url, DEBUG="0", SECRET_KEY="bench-only")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=REPO,
            env=env,
            check=True,
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "pairs.jsonl"
            size = synthetic_jsonl(path, args.pairs)
            print(f"{args.pairs:,} synthetic pairs, {size / 1e6:.1f} MB of JSON Lines")
            # Alternating rounds, best of each: a shared machine's load comes and goes.
            runs: dict[str, list[dict[str, Any]]] = {}
            for _ in range(max(1, args.rounds)):
                for phase in ("parse", "service", "bulk_create", "write_copy", "write_bulk"):
                    runs.setdefault(phase, []).append(_run_phase(phase, path, bench_url))
            best = {phase: min(r, key=lambda x: x["seconds"]) for phase, r in runs.items()}
            traced = _run_phase("traced", path, bench_url)
            idle = _run_phase("idle", path, bench_url)
        _report(best, runs, traced, idle)
    finally:
        with _admin_connection(url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')


def _report(
    best: dict[str, dict[str, Any]],
    runs: dict[str, list[dict[str, Any]]],
    traced: dict[str, Any],
    idle: dict[str, Any],
) -> None:
    counts = {phase: result["created"] for phase, result in best.items()}
    assert len(set(counts.values())) == 1, counts

    def line(label: str, phase: str, extra: str = "") -> str:
        result = best[phase]
        every = ", ".join(f"{r['seconds']:.1f}" for r in runs[phase])
        rate = result["created"] / result["seconds"]
        figures = f"{result['seconds']:7.2f} s {rate:9,.0f} pairs/s"
        return f"{label:30s}{figures}  (runs: {every} s){extra}\n"

    service, baseline = best["service"], best["bulk_create"]
    out = io.StringIO()
    out.write("best of each phase; every run in parentheses\n")
    out.write(line("parser alone:", "parse"))
    out.write(
        line("service (pairs_import):", "service", f"  peak RSS {service['peak_rss_mb']:.0f} MB")
    )
    out.write(
        line(
            "baseline (parse+bulk_create):",
            "bulk_create",
            f"  peak RSS {baseline['peak_rss_mb']:.0f} MB",
        )
    )
    ratio = baseline["seconds"] / service["seconds"]
    out.write(f"{'ratio, end to end:':30s}{ratio:7.2f}x (the parser is common to both)\n")
    out.write(line("writes only, COPY:", "write_copy"))
    out.write(line("writes only, bulk_create 1k:", "write_bulk"))
    ratio = best["write_bulk"]["seconds"] / best["write_copy"]["seconds"]
    out.write(f"{'ratio, writes only:':30s}{ratio:7.2f}x\n")
    out.write(
        f"{'re-import of the same file:':30s}{service['reimport_seconds']:7.2f} s, "
        f"{service['reimport_created']} created, {service['reimport_duplicates']:,} duplicates\n"
    )
    out.write(
        f"service peak Python allocations (tracemalloc): {traced['tracemalloc_peak_mb']:.1f} MB\n"
    )
    out.write(f"peak RSS of a process that only set Django up: {idle['peak_rss_mb']:.0f} MB\n")
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
