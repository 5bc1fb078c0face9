"""What a report is computed from: the paired records of two runs, a repeat run of the baseline
(the judge's own noise), and the runs a pending report waits on."""

from __future__ import annotations

from typing import Any

from apps.drift.models import DriftReport, ReportStatus
from apps.judging.models import JudgingRun, RunStatus
from apps.judging.selectors import run_pair_outcomes, run_waiting


def repeat_run_for(report: DriftReport) -> JudgingRun | None:
    """A second finished run of the baseline rubric version on the same judge and snapshot that
    asked the judge again (``use_cache=False``): its flips against the baseline are the judge's
    own noise. None when nobody ran one."""
    if report.baseline_run_id is None:
        return None
    return (
        JudgingRun.objects.filter(
            rubric_version_id=report.baseline_version_id,
            judge_id=report.judge_id,
            reference_set_id=report.reference_set_id,
            use_cache=False,
            status__in=(RunStatus.SUCCEEDED, RunStatus.PARTIAL),
        )
        .exclude(pk__in=[report.baseline_run_id, report.candidate_run_id])
        .order_by("-finished_at", "-pk")
        .first()
    )


def paired_records(
    *, baseline_run: JudgingRun, candidate_run: JudgingRun, repeat_run: JudgingRun | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One record per pair judged by both runs (``PairedOutcomes.from_records`` keys), ordered by
    pair id, and the number of pairs of the snapshot that only one run judged.

    Lengths (characters), refusal markers and the prompt hash (the bootstrap's cluster) come
    from the judging app's per-pair outcomes; verdicts aggregate both orders.
    """
    baseline = {row["pair_id"]: row for row in run_pair_outcomes(baseline_run, rationales=False)}
    candidate = {
        row["pair_id"]: row
        for row in run_pair_outcomes(candidate_run, texts=False, rationales=False)
    }
    repeat: dict[int, str] = {}
    if repeat_run is not None:
        repeat = {
            row["pair_id"]: row["verdict"]
            for row in run_pair_outcomes(repeat_run, texts=False, rationales=False)
        }
    shared = sorted(baseline.keys() & candidate.keys())
    records = []
    for pair_id in shared:
        base, cand = baseline[pair_id], candidate[pair_id]
        records.append(
            {
                "pair_id": pair_id,
                "domain": base["domain"],
                "gold": base["gold"],
                "baseline": base["verdict"],
                "candidate": cand["verdict"],
                "length_a": base["len_a"],
                "length_b": base["len_b"],
                "refuses_a": base["refuses_a"],
                "refuses_b": base["refuses_b"],
                "cluster": base["prompt_hash"],
                "baseline_consistent": base["consistent"],
                "candidate_consistent": cand["consistent"],
                "repeat_baseline": repeat.get(pair_id) if repeat_run is not None else None,
            }
        )
    unmatched = len(baseline.keys() ^ candidate.keys())
    return records, unmatched


def report_waiting_runs(report: DriftReport) -> list[tuple[int, str]]:
    """(run id, why it waits) for each run a pending report waits on that is not moving."""
    if report.status != ReportStatus.PENDING:
        return []
    waiting = []
    for run in (report.baseline_run, report.candidate_run, report.repeat_run):
        if run is None:
            continue
        reason = run_waiting(run)
        if reason:
            waiting.append((run.pk, reason))
    return waiting
