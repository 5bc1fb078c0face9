"""The seam through which a higher app vets the judge a drift guard is about to use.

The drift app imports no app above it. A guard whose judge is replaced (or whose judge config
is edited in place) asks the registered clearance function, before its next check, whether the
new judge may judge for it; forensics fills the registry in its ``AppConfig.ready()`` with the
answer of its judge drift report. With nothing registered every judge is cleared: the drift app
alone behaves as if no one watched the judge.

``judge_identity`` (the judging app's, re-exported here) is what the guard remembers of the
judge it cleared, so an edit in place (model, endpoint, answer-shaping parameters) reads as a
new judge.

A drift report whose two runs were judged by different judges (another config, or the same one
edited in place between them) cannot say on its own whether the rubric moved the verdicts; the
split registry (``register_judge_split``) lets forensics name the 2 x 2 report that separates the
two causes, shown on the report page and in its API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.judging.accounting import judge_identity


@dataclass(frozen=True)
class JudgeClearance:
    """Whether a guard may judge with a new judge, why (shown on the guard page and in the API),
    and the report that decided it, if any."""

    cleared: bool
    reason: str
    report_id: int | None = None
    flagged: bool = False
    link: str = ""

    def payload(self) -> dict[str, Any]:
        """The clearance as JSON (API, audit log)."""
        return {
            "cleared": self.cleared,
            "reason": self.reason,
            "report": self.report_id,
            "flagged": self.flagged,
            "link": self.link,
        }


# (guard, new judge) -> clearance. ``guard.judge`` and ``guard.judge_state`` are the judge the
# guard uses now and what it was when cleared; the new judge is the requested one, or the same
# config when it was edited in place.
ClearanceCheck = Callable[[Any, Any], JudgeClearance]

_CLEARANCE: list[ClearanceCheck] = []

__all__ = [
    "ClearanceCheck",
    "JudgeClearance",
    "JudgeSplit",
    "SplitLookup",
    "judge_clearance",
    "judge_identity",
    "judge_split",
    "register_judge_clearance",
    "register_judge_split",
]

UNWATCHED = JudgeClearance(cleared=True, reason="No app vets the guard's judge changes.")


def register_judge_clearance(function: ClearanceCheck) -> ClearanceCheck:
    """Register the function that clears a guard's new judge (once, however often called)."""
    if function not in _CLEARANCE:
        _CLEARANCE.append(function)
    return function


def judge_clearance(guard: Any, new_judge: Any) -> JudgeClearance:
    """The first registered answer for ``new_judge`` on ``guard`` (cleared when none is)."""
    for function in _CLEARANCE:
        return function(guard, new_judge)
    return UNWATCHED


@dataclass(frozen=True)
class JudgeSplit:
    """What separates the rubric's effect from the judge's on a drift report whose judge moved:
    a 2 x 2 report (``kind="factorial"``) or, when the old judge never judged the candidate, the
    judge alone with the rubric held at the baseline (``kind="judge"``); shown beside the
    report's "Rubric or judge?" statement."""

    report_id: int
    kind: str
    status: str
    link: str
    blame: str = ""
    headline: str = ""
    flags: int = 0
    error: str = ""
    # The version(s) judged: "v3" for the judge alone, "v3 → v4" for the 2 x 2.
    rubric: str = ""

    def payload(self) -> dict[str, Any]:
        """The split as JSON (the drift report API)."""
        return {
            "report": self.report_id,
            "kind": self.kind,
            "rubric": self.rubric,
            "status": self.status,
            "link": self.link,
            "blame": self.blame,
            "headline": self.headline,
            "flags": self.flags,
            "error": self.error,
        }


# drift report -> the judge drift report that splits its causes, if any.
SplitLookup = Callable[[Any], JudgeSplit | None]

_SPLIT: list[SplitLookup] = []


def register_judge_split(function: SplitLookup) -> SplitLookup:
    """Register the function that finds a drift report's rubric x judge split (once)."""
    if function not in _SPLIT:
        _SPLIT.append(function)
    return function


def judge_split(report: Any) -> JudgeSplit | None:
    """The first registered answer for ``report`` (None when nothing is registered)."""
    for function in _SPLIT:
        return function(report)
    return None
