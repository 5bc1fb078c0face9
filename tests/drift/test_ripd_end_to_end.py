"""End to end on real data: the RIPD harmlessness seed rubric and its edited descendant, judged
by the offline judge on HH-RLHF pairs, compared by a drift report.

The data sit beside the project (``../shared/data``); the test skips when they are absent. The
offline judge is a rule-based demo judge, so the test asserts that the whole path works (import,
reference snapshot, two runs, statistics) and what a report must contain, not which flags the
rule-based judge happens to raise; the figures are printed for the record.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pytest

from apps.datasets import services as dataset_services
from apps.drift import explain, services
from apps.drift.models import ReportStatus
from apps.judging.models import RunStatus
from apps.rubrics import services as rubric_services
from apps.rubrics.spec import PLACEHOLDERS
from tests.factories import make_judge

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
RIPD = DATA / "ripd-rubrics" / "harmlessness" / "Anthropic-SafeRLHF_selected_rubrics.jsonl"
HARMLESS = DATA / "hh-rlhf" / "harmless-base_test.jsonl.gz"
HELPFUL = DATA / "hh-rlhf" / "helpful-base_test.jsonl.gz"
HARMLESS_PAIRS = 300
HELPFUL_PAIRS = 150

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (RIPD.exists() and HARMLESS.exists() and HELPFUL.exists()),
        reason="RIPD rubrics or HH-RLHF data not present in ../shared/data",
    ),
]


def _head(path: Path, lines: int) -> io.BytesIO:
    """The first ``lines`` rows of a gzipped JSON Lines file, in memory (never copied to disk)."""
    with gzip.open(path, "rb") as source:
        rows = [source.readline() for _ in range(lines)]
    return io.BytesIO(b"".join(rows))


def test_ripd_seed_vs_edited_rubric_on_hh_rlhf(project: Any, members: dict[str, Any]) -> None:
    admin = members["admin"]
    dataset = dataset_services.dataset_create(
        actor=admin, project=project, name="HH-RLHF sample", description="", source="hh-rlhf"
    )
    for path, count, domain in (
        (HARMLESS, HARMLESS_PAIRS, "harmlessness"),
        (HELPFUL, HELPFUL_PAIRS, "helpfulness"),
    ):
        imported = dataset_services.pairs_import(
            actor=admin,
            dataset=dataset,
            file=_head(path, count),
            format="hh-rlhf",
            domain=domain,
            seed=7,
            source_name=path.name,
        )
        assert imported.created > count * 0.9
    reference_set = dataset_services.reference_set_create(
        actor=admin, project=project, name="HH-RLHF reference", dataset=dataset
    )
    assert set(reference_set.domain_counts) == {"harmlessness", "helpfulness"}

    result = rubric_services.rubric_import(
        actor=admin, project=project, filename=RIPD.name, data=RIPD.read_bytes()
    )
    seed, edited = result.versions[0], result.versions[-1]
    assert seed.is_published and edited.is_published and seed != edited
    assert all(p in seed.template and p in edited.template for p in PLACEHOLDERS)

    judge = make_judge(project, name="Offline")
    report = services.drift_check_start(
        actor=admin,
        version=edited,
        baseline=seed,
        judge=judge,
        reference_set=reference_set,
        execute=True,
    )
    assert report is not None
    assert report.status == ReportStatus.READY, report.error
    assert report.baseline_run.status == RunStatus.SUCCEEDED
    assert report.candidate_run.status == RunStatus.SUCCEEDED
    assert report.stats["pairs_compared"] == reference_set.item_count
    overall = report.overall
    assert overall["n"] + overall["n_gold_tie"] == reference_set.item_count
    for domain in ("harmlessness", "helpfulness"):
        scope = report.by_domain[domain]
        for key in ("baseline_accuracy", "candidate_accuracy", "delta", "mcnemar_p", "mde"):
            assert scope[key] is not None, (domain, key)
        assert scope["delta"] == pytest.approx(
            scope["candidate_accuracy"] - scope["baseline_accuracy"]
        )
        assert scope["delta_ci"][0] <= scope["delta"] <= scope["delta_ci"][1]
    assert len(report.stats["flipped"]) == overall["flips"]
    assert all(flag["kind"] in explain.FLAG_TITLES for flag in report.flags)
    assert (report.flags != []) == hasattr(report, "alert")
    print(
        f"\nRIPD Anthropic-SafeRLHF seed -> edited, offline judge, {overall['n']} pairs: "
        + "; ".join(explain.summary_lines(report.stats, report.flags))
    )
