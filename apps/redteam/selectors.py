"""Reads of the red-team app: job lists, progress, the frontier, and a version's robustness line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, DecimalField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from apps.accounts.models import Project
from apps.datasets.models import ReferenceItem
from apps.drift.explain import DASH
from apps.redteam.charts import FrontierChart, frontier_chart
from apps.redteam.models import (
    Candidate,
    CandidateKind,
    JobStatus,
    PairVerdict,
    RedTeamJob,
    SpendEntry,
    SpendKind,
    Split,
)
from apps.redteam.search import frontier
from apps.rubrics.models import RubricVersion


def jobs_for_project(*, project: Project) -> QuerySet[RedTeamJob]:
    """The project's red-team jobs, newest first, with what their rows show."""
    return RedTeamJob.objects.filter(project=project).select_related(
        "rubric_version__rubric", "judge", "editor"
    )


@dataclass(frozen=True)
class JobProgress:
    """What the progress panel shows; ``steps_done``/``steps`` count generations plus the seed,
    the selection and the report."""

    phase: str
    generation: int
    generations: int
    steps_done: int
    steps: int
    candidates: int
    best_fitness: float | None
    judge_calls: int
    cached_calls: int
    editor_calls: int
    cost: Any
    is_finished: bool

    @property
    def percent(self) -> float:
        return 100.0 * self.steps_done / self.steps if self.steps else 0.0

    @property
    def cache_hit_rate(self) -> float | None:
        total = self.judge_calls + self.cached_calls
        return self.cached_calls / total if total else None


def job_progress(job: RedTeamJob) -> JobProgress:
    """The job's position: generations searched, then selection and report."""
    steps = job.generations + 3
    done = max(0, job.generation + 1)
    if job.phase in ("select",):
        done = job.generations + 1
    elif job.phase == "report":
        done = job.generations + 2
    if job.status == JobStatus.SUCCEEDED:
        done = steps
    return JobProgress(
        phase=job.get_phase_display(),
        generation=max(0, job.generation),
        generations=job.generations,
        steps_done=min(done, steps),
        steps=steps,
        candidates=job.candidates,
        best_fitness=job.best_fitness,
        judge_calls=job.judge_calls,
        cached_calls=job.cached_calls,
        editor_calls=job.editor_calls,
        cost=job.cost,
        is_finished=job.is_finished,
    )


# The job's spend figures the ledger adds up (``spend_totals``), in the order a totals line shows.
LEDGER_FIGURES = ("judge_calls", "cached_calls", "editor_calls", "tokens_in", "tokens_out", "cost")


def spend_entries(*, job: RedTeamJob) -> QuerySet[SpendEntry]:
    """The job's ledger, in the order it was spent, with each entry's candidate."""
    return SpendEntry.objects.filter(job=job).select_related("candidate").order_by("pk")


def spend_totals(entries: QuerySet[SpendEntry]) -> dict[str, Any]:
    """What ``entries`` add up to, keyed as the job's figures (``LEDGER_FIGURES``); an editor
    entry is one editor call."""
    money = DecimalField(max_digits=20, decimal_places=6)
    return entries.order_by().aggregate(
        judge_calls=Coalesce(Sum("judge_calls"), 0),
        cached_calls=Coalesce(Sum("cached_calls"), 0),
        editor_calls=Count("pk", filter=Q(kind=SpendKind.EDITOR)),
        tokens_in=Coalesce(Sum("tokens_in"), 0),
        tokens_out=Coalesce(Sum("tokens_out"), 0),
        cost=Coalesce(Sum("cost"), Value(0), output_field=money),
    )


def ledger_matches(job: RedTeamJob, totals: dict[str, Any] | None = None) -> bool:
    """Whether the job's ledger adds up to its figures (jobs that predate the ledger do not);
    ``totals`` is ``spend_totals`` of the whole ledger when the caller has it."""
    totals = totals if totals is not None else spend_totals(spend_entries(job=job))
    return all(totals[name] == getattr(job, name) for name in LEDGER_FIGURES)


def job_candidates(*, job: RedTeamJob) -> QuerySet[Candidate]:
    """Every candidate of the job, generation by generation (the seed first)."""
    return Candidate.objects.filter(job=job).order_by("generation", "index", "pk")


@dataclass(frozen=True)
class VerdictRow:
    """A candidate's verdict on one pair, beside the pair's gold label in the job's references."""

    verdict: PairVerdict
    gold: str | None

    @property
    def correct(self) -> bool | None:
        return None if self.gold is None else self.verdict.verdict == self.gold


def candidate_verdicts(*, candidate: Candidate) -> QuerySet[PairVerdict]:
    """The candidate's per-pair verdicts, by split (train, val, test) then pair."""
    split_order = Case(
        *(When(split=split, then=Value(n)) for n, split in enumerate(Split.values)),
        default=Value(len(Split.values)),
    )
    return (
        PairVerdict.objects.filter(candidate=candidate)
        .select_related("pair")
        .order_by(split_order, "pair_id")
    )


def verdicts_with_gold(*, job: RedTeamJob, verdicts: list[PairVerdict]) -> list[VerdictRow]:
    """``verdicts`` with their gold labels from the job's reference sets (its own set first)."""
    sets = [pk for pk in (job.benchmark_reference_set_id, job.reference_set_id) if pk]
    gold: dict[int, str] = {}
    items = ReferenceItem.objects.filter(
        reference_set_id__in=sets, pair_id__in=[v.pair_id for v in verdicts]
    ).values_list("reference_set_id", "pair_id", "gold_label")
    # The job's own reference set wins over the benchmark set where both label a pair.
    for _set, pair_id, label in sorted(items, key=lambda i: i[0] == job.reference_set_id):
        gold[pair_id] = label
    return [VerdictRow(v, gold.get(v.pair_id)) for v in verdicts]


def frontier_points(job: RedTeamJob) -> list[dict[str, Any]]:
    """Every judged search candidate's train deltas against the seed, generation by generation."""
    points = []
    rows = Candidate.objects.filter(job=job, kind=CandidateKind.SEARCH).order_by(
        "generation", "index"
    )
    for c in rows:
        if None in (c.train_target, c.seed_train_target, c.train_bench, c.seed_train_bench):
            continue
        points.append(
            {
                "id": c.pk,
                "generation": c.generation,
                "compliant": c.compliant,
                "target_delta": c.train_target - c.seed_train_target,  # type: ignore[operator]
                "bench_delta": c.train_bench - c.seed_train_bench,  # type: ignore[operator]
            }
        )
    return points


def job_chart(job: RedTeamJob) -> FrontierChart | None:
    """The frontier chart of a job (its stored frontier once selected, else computed live)."""
    points = frontier_points(job)
    rows = job.result.get("frontier") or frontier(points)
    return frontier_chart(points, rows, tolerance=job.tolerance)


def _points(delta: float | None) -> str:
    return DASH if delta is None else f"{delta * 100:+.0f} pts"


def _p_text(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def robustness_line(job: RedTeamJob) -> str:
    """One sentence on how far the job could push the judge, as the version page shows it."""
    targets = ", ".join(job.targets)
    test = job.result.get("test")
    if job.result.get("verdict") == "drifts" and test:
        target, bench = test["target"], test["benchmark"]
        return (
            f"worst drift found: {targets} {_points(target.get('delta'))} on held-out pairs "
            f"({_p_text(target.get('mcnemar_p'))}) by an edit that passes the benchmark "
            f"({_points(bench.get('delta'))}); {job.candidates} candidates searched"
        )
    moved = None
    if test:
        moved = test["target"].get("delta")
    else:
        frontier = job.result.get("frontier") or []
        deltas = [row["target_delta"] for row in frontier if row.get("target_delta") is not None]
        moved = min(deltas) if deltas else 0.0
    size = abs(moved or 0.0) * 100
    return (
        f"no compliant edit moved {targets} by a significant drift (at most {size:.0f} pts) "
        f"in {job.candidates} candidates"
    )


def version_robustness(version: RubricVersion) -> dict[str, Any] | None:
    """The latest finished red team of ``version``: its job and its line; None when never run."""
    job = (
        RedTeamJob.objects.filter(rubric_version=version, status=JobStatus.SUCCEEDED)
        .select_related("judge")
        .order_by("-finished_at", "-id")
        .first()
    )
    active = RedTeamJob.objects.filter(
        rubric_version=version, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
    ).first()
    if job is None and active is None:
        return None
    return {
        "job": job,
        "line": robustness_line(job) if job is not None else "",
        "active": active,
    }


def report_against_red_team(report: Any) -> dict[str, Any] | None:
    """Where a drift report's edit sits against the red team of its baseline version.

    The latest finished red team of the report's baseline version with the same judge gives,
    per target domain: the worst compliant drift it found (test split) and the benign band
    (paraphrases on val). The report's own delta of that domain is compared with both. None
    when the baseline was never red-teamed with this judge or the report has no figures.
    """
    job = (
        RedTeamJob.objects.filter(
            rubric_version_id=report.baseline_version_id,
            judge_id=report.judge_id,
            status=JobStatus.SUCCEEDED,
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    if job is None:
        return None
    by_domain = report.by_domain
    band = (job.result.get("benign_band") or {}).get("by_domain") or {}
    test = job.result.get("test") or {}
    worst = ((test.get("report") or {}).get("by_domain")) or {}
    rows = []
    for domain in job.targets:
        delta = (by_domain.get(domain) or {}).get("delta")
        if delta is None:
            continue
        noise = band.get(domain)
        outside = (
            None if noise is None else not noise["low"] - 1e-9 <= delta <= noise["high"] + 1e-9
        )
        frontier = (worst.get(domain) or {}).get("delta")
        rows.append(
            {
                "domain": domain,
                "delta": delta,
                "band": noise,
                "outside_band": outside,
                "frontier": frontier,
                "share_of_worst": (delta / frontier) if frontier and frontier < 0 else None,
            }
        )
    return {"job": job, "rows": rows} if rows else None
