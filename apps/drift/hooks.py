"""The seam through which a higher app vets the judge a drift guard is about to use.

The drift app imports no app above it. A guard whose judge is replaced (or whose judge config
is edited in place) asks the registered clearance function, before its next check, whether the
new judge may judge for it; forensics fills the registry in its ``AppConfig.ready()`` with the
answer of its judge drift report. With nothing registered every judge is cleared: the drift app
alone behaves as if no one watched the judge.

``judge_identity`` is what the guard remembers of the judge it cleared, so an edit in place
(model, endpoint, answer-shaping parameters) reads as a new judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.judging.accounting import TRANSPORT_PARAMS


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


def judge_identity(judge: Any) -> dict[str, Any]:
    """What makes a judge config answer as it does: backend, model, endpoint and the parameters
    that shape answers (transport settings such as timeouts and batch size do not)."""
    return {
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "params": {k: v for k, v in sorted(judge.params.items()) if k not in TRANSPORT_PARAMS},
    }
