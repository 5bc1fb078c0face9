"""Rubric or judge? What a drift report says of its judge: whether both runs were judged by the
same judge (``apps.drift.judge_question``), and, when the judge moved, the report that splits
the two causes (asked of the ``apps.drift.hooks`` split registry)."""

from __future__ import annotations

from typing import Any

from apps.drift import hooks
from apps.drift.judge_question import JudgeQuestion, RunJudge, judge_question
from apps.drift.models import DriftReport
from apps.judging.models import JudgingRun


def _run_judge(run: JudgingRun) -> RunJudge:
    return RunJudge(
        run_id=run.pk,
        judge_id=run.judge_id,
        judge_name=run.judge.name,
        state=dict(run.judge_state or {}),
        created_at=run.created_at,
    )


def report_judge_moved(report: DriftReport) -> JudgeQuestion | None:
    """Whether the report's two runs were judged by the same judge; None for a report without
    both runs (it compared nothing)."""
    baseline, candidate = report.baseline_run, report.candidate_run
    if baseline is None or candidate is None:
        return None
    judge = candidate.judge
    return judge_question(
        _run_judge(baseline),
        _run_judge(candidate),
        current=hooks.judge_identity(judge),
        edited_at=judge.updated_at,
    )


def report_judge_question(report: DriftReport) -> dict[str, Any] | None:
    """The "Rubric or judge?" statement of a report page and its API: ``judge`` (``held``,
    ``moved`` or ``unknown``), ``sentence``, ``changes`` and, when the judge moved, ``split``
    (the 2 x 2, or the judge alone with the rubric held, with its status and link; None until
    one exists)."""
    question = report_judge_moved(report)
    if question is None:
        return None
    split = hooks.judge_split(report) if question.moved else None
    return {
        "judge": question.verdict,
        "sentence": question.sentence,
        "changes": list(question.changes),
        "split": split.payload() if split is not None else None,
    }
