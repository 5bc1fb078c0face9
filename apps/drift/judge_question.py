"""Rubric or judge? Whether the two runs of a drift report were judged by the same judge.

A drift report compares two runs of one judge config, but a config can be edited in place
between them (a model snapshot, an endpoint, a temperature), and then the verdicts may have
moved because the judge moved. Each run records the judge's identity at its start
(``JudgingRun.judge_state``); this module compares them. Pure: the caller passes what the runs
and the config say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HELD = "held"
MOVED = "moved"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RunJudge:
    """What a run says of its judge: the config, its identity at the run's start (empty when
    the run predates that record) and when the run was made."""

    run_id: int
    judge_id: int
    judge_name: str
    state: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class JudgeQuestion:
    """The answer: ``held`` (same judge, the change comes from the rubric), ``moved`` (the
    judge changed between the runs, ``changes`` says how) or ``unknown``; with the sentence the
    page shows."""

    verdict: str
    sentence: str
    changes: list[str] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return self.verdict == MOVED


def _shown(value: Any) -> str:
    return "(unset)" if value in (None, "") else str(value)


def identity_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``"model: a → b"`` for each part of a judge's identity that differs (params by name)."""
    changes = [
        f"{name}: {_shown(before.get(name))} → {_shown(after.get(name))}"
        for name in ("backend", "model", "base_url")
        if before.get(name) != after.get(name)
    ]
    old_params, new_params = before.get("params") or {}, after.get("params") or {}
    for name in sorted(old_params.keys() | new_params.keys()):
        if old_params.get(name) != new_params.get(name):
            changes.append(
                f"{name}: {_shown(old_params.get(name))} → {_shown(new_params.get(name))}"
            )
    return changes


def _known_state(
    run: RunJudge, current: dict[str, Any], edited_at: datetime | None
) -> dict[str, Any]:
    """The run's judge identity: recorded, else the config as it is now when the config was not
    saved since the run was made, else unknown (empty)."""
    if run.state:
        return run.state
    if edited_at is not None and run.created_at >= edited_at:
        return current
    return {}


def judge_question(
    baseline: RunJudge,
    candidate: RunJudge,
    *,
    current: dict[str, Any],
    edited_at: datetime | None,
) -> JudgeQuestion:
    """Whether ``baseline`` and ``candidate`` were judged by the same judge. ``current`` is the
    candidate's judge config's identity now and ``edited_at`` when it was last saved."""
    if baseline.judge_id != candidate.judge_id:
        return JudgeQuestion(
            MOVED,
            f"The runs used different judge configs ({baseline.judge_name} and "
            f"{candidate.judge_name}): the judge moved as well as the rubric, so this report "
            "alone cannot say which of the two moved the verdicts.",
        )
    before = _known_state(baseline, current, edited_at)
    after = _known_state(candidate, current, edited_at)
    name = candidate.judge_name
    if not before or not after:
        return JudgeQuestion(
            UNKNOWN,
            f"Run #{baseline.run_id if not before else candidate.run_id} does not record what "
            f"{name} was when it ran, and the config has been saved since; whether the judge "
            "changed between the runs is not known.",
        )
    changes = identity_changes(before, after)
    if not changes:
        return JudgeQuestion(
            HELD,
            f"Both runs were judged by {name} with the same model, endpoint and answer-shaping "
            "parameters: the judge was held fixed, so the change comes from the rubric.",
        )
    return JudgeQuestion(
        MOVED,
        f"{name} was edited in place between run #{baseline.run_id} and run "
        f"#{candidate.run_id}: the judge moved as well as the rubric, so this report alone "
        "cannot say which of the two moved the verdicts.",
        changes,
    )
