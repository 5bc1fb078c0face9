"""The report on test, the only step that reads test: the seed against the picked attack with
the statistics of a drift report, the verdict, and the attack saved as a draft."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from apps.drift import selectors as drift_selectors
from apps.drift.stats import PairedOutcomes, compute_drift_report
from apps.judging.backends.offline import is_refusal
from apps.redteam import search
from apps.redteam.models import Candidate, CandidateKind, JobStatus, PairVerdict, Phase, RedTeamJob
from apps.redteam.services.judge import Judged, judge_rubric
from apps.redteam.services.pairs import PairRow
from apps.redteam.services.state import finish, spend, spend_write, verdict_rows
from apps.rubrics import services as rubric_services
from apps.rubrics.spec import RubricSpec, spec_from_content

# The figures of a scope (target or benchmark) the report keeps.
REPORT_STEP = "report"
SCOPE_FIGURES = ("n", "baseline_accuracy", "candidate_accuracy", "delta", "delta_ci", "mcnemar_p")


def _outcomes(
    rows: Sequence[PairRow], base: Judged, cand: Judged, *, grouped: bool
) -> PairedOutcomes:
    return PairedOutcomes.from_lists(
        domain=[
            ("target" if r.group == "target" else "benchmark") if grouped else r.text.domain
            for r in rows
        ],
        gold=[r.gold for r in rows],
        baseline=[base.verdicts[r.pair_id] for r in rows],
        candidate=[cand.verdicts[r.pair_id] for r in rows],
        length_a=[len(r.text.response_a) for r in rows],
        length_b=[len(r.text.response_b) for r in rows],
        refuses_a=[is_refusal(r.text.response_a) for r in rows],
        refuses_b=[is_refusal(r.text.response_b) for r in rows],
        cluster=[r.text.prompt for r in rows],
        pair_id=[r.pair_id for r in rows],
    )


def _test_result(
    job: RedTeamJob, test: Sequence[PairRow], seed_test: Judged, best_test: Judged
) -> tuple[dict[str, Any], bool]:
    """The drift report of the attack against the seed on test (per domain, and target vs
    benchmark), and whether the attack drifts a target domain while the benchmark holds."""
    thresholds = drift_selectors.guard_thresholds(job.rubric_version.rubric)
    report = compute_drift_report(
        _outcomes(test, seed_test, best_test, grouped=False), thresholds, seed=job.seed
    )
    grouped = compute_drift_report(
        _outcomes(test, seed_test, best_test, grouped=True), thresholds, seed=job.seed
    )
    target_scope = grouped["by_domain"].get("target", {})
    bench_scope = grouped["by_domain"].get("benchmark", {})
    drifted = any(
        flag["kind"] == "domain_drift" and flag["domain"] in job.targets for flag in report["flags"]
    ) and search.is_compliant(
        bench_scope.get("candidate_accuracy"),
        bench_scope.get("baseline_accuracy"),
        job.selection_tolerance,
    )
    report.pop("flipped", None)
    result = {
        "report": report,
        "target": {k: target_scope.get(k) for k in SCOPE_FIGURES},
        "benchmark": {k: bench_scope.get(k) for k in SCOPE_FIGURES},
    }
    return result, drifted


def _write_report(
    job: RedTeamJob,
    best: Candidate,
    best_spec: RubricSpec,
    tests: tuple[Judged, Judged],
    result_json: dict[str, Any],
) -> None:
    """The test verdicts, the attack as a draft version and the job's end, in one transaction."""
    seed_test, best_test = tests
    with transaction.atomic():
        if RedTeamJob.objects.filter(pk=job.pk).exclude(phase=Phase.REPORT).exists():
            return
        seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
        PairVerdict.objects.bulk_create(
            verdict_rows(seed, seed_test, "test"), ignore_conflicts=True
        )
        PairVerdict.objects.bulk_create(
            verdict_rows(best, best_test, "test"), ignore_conflicts=True
        )
        draft = rubric_services.rubric_version_create(
            actor=job.created_by,
            rubric=job.rubric_version.rubric,
            parent=job.rubric_version,
            instructions=best_spec.instructions,
            template=best_spec.template,
            output_format=best_spec.output_format,
            criteria=[dict(c) for c in best.spec.get("criteria", [])],
            message=(
                f"Red-team attack found by red team {job.pk} (generation {best.generation}): "
                f"{best.edit}. For study only; do not publish."
            ),
        )
        finish(
            job,
            JobStatus.SUCCEEDED,
            phase=Phase.DONE,
            draft_version=draft,
            result=result_json,
            **spend_write(job),
        )


def report_step(job: RedTeamJob, test: Sequence[PairRow]) -> None:
    """The only step that reads test: the seed against the picked attack, with the statistics
    of a drift report (per domain, and target vs benchmark), and the attack saved as a draft."""
    result_json = dict(job.result)
    best = job.best
    if best is None:
        result_json["test"] = None
        result_json["verdict"] = "robust"
        with transaction.atomic():
            finish(job, JobStatus.SUCCEEDED, result=result_json, **spend_write(job))
        return
    seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
    seed_test = judge_rubric(job.judge, job.rubric_version.to_spec(), test)
    spend(job, seed_test, candidate=seed, step=REPORT_STEP, split="test")
    best_spec = spec_from_content(best.spec)
    best_test = judge_rubric(job.judge, best_spec, test)
    spend(job, best_test, candidate=best, step=REPORT_STEP, split="test")
    result_json["test"], drifted = _test_result(job, test, seed_test, best_test)
    result_json["verdict"] = "drifts" if drifted else "robust"
    _write_report(job, best, best_spec, (seed_test, best_test), result_json)
