"""The reading of a judge drift report: the four comparisons of the 2 x 2, which factor the
flags blame, the main effects and interaction per domain, and the headline (pure functions)."""

from __future__ import annotations

from typing import Any

from apps.forensics.models import Blame, JudgeDriftKind

# The comparison of a judge-only report, and the four comparisons of the 2 x 2, as (name,
# changed factor, baseline run, candidate run): the run fields of ``JudgeDriftReport``.
JUDGE_COMPARISON = ("judge", "judge", "run_old", "run_new_judge")
FACTORIAL_COMPARISONS = (
    ("judge_under_old_rubric", "judge", "run_old", "run_new_judge"),
    ("judge_under_new_rubric", "judge", "run_new_rubric", "run_both"),
    ("rubric_under_old_judge", "rubric", "run_old", "run_new_rubric"),
    ("rubric_under_new_judge", "rubric", "run_new_judge", "run_both"),
)
# Every comparison's (baseline run, candidate run) fields, by name, in reading order.
COMPARISON_RUNS = {
    name: (before, after) for name, _, before, after in (JUDGE_COMPARISON, *FACTORIAL_COMPARISONS)
}


def blame_of(flags: list[dict[str, Any]]) -> str:
    """Which factor the flags blame: each flag carries the cause of its comparison."""
    causes = {flag["cause"] for flag in flags}
    if causes == {"judge", "rubric"}:
        return Blame.BOTH
    if causes == {"judge"}:
        return Blame.JUDGE
    if causes == {"rubric"}:
        return Blame.RUBRIC
    return Blame.NEITHER


def _delta(comparison: dict[str, Any], scope: str) -> float | None:
    part = comparison["overall"] if scope == "" else comparison["by_domain"].get(scope) or {}
    value = part.get("delta")
    return float(value) if value is not None else None


def analysis_effects(comparisons: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Main effects and interaction of the 2 x 2 per scope (``""`` is all pairs).

    Judge effect: the mean of the accuracy deltas of the new judge under each rubric; rubric
    effect likewise; interaction: how much the rubric's delta differs between the judges.
    """
    domains = {d for comparison in comparisons.values() for d in comparison["by_domain"]}
    scopes = ["", *sorted(domains)]
    effects: dict[str, dict[str, Any]] = {}
    for scope in scopes:
        jo = _delta(comparisons["judge_under_old_rubric"], scope)
        jn = _delta(comparisons["judge_under_new_rubric"], scope)
        ro = _delta(comparisons["rubric_under_old_judge"], scope)
        rn = _delta(comparisons["rubric_under_new_judge"], scope)
        judge = (jo + jn) / 2 if jo is not None and jn is not None else None
        rubric = (ro + rn) / 2 if ro is not None and rn is not None else None
        interaction = rn - ro if ro is not None and rn is not None else None
        effects[scope or "overall"] = {
            "judge": judge,
            "rubric": rubric,
            "interaction": interaction,
        }
    return effects


def _pts(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} pts"


def judge_drift_headline(kind: str, blame: str, stats: dict[str, Any]) -> str:
    """One sentence naming what moved the verdicts, with the overall accuracy effects."""
    if kind == JudgeDriftKind.JUDGE:
        delta = stats["comparisons"]["judge"]["overall"].get("delta")
        if blame == Blame.JUDGE:
            return f"The judge change moved the verdicts: overall accuracy {_pts(delta)}."
        return f"No drift flagged from the judge change (overall accuracy {_pts(delta)})."
    overall = stats["effects"]["overall"]
    effects = f"judge effect {_pts(overall['judge'])}, rubric effect {_pts(overall['rubric'])}"
    sentences = {
        Blame.JUDGE: "The judge moved the verdicts, not the rubric",
        Blame.RUBRIC: "The rubric moved the verdicts, not the judge",
        Blame.BOTH: "Both the rubric and the judge moved the verdicts",
        Blame.NEITHER: "Neither the rubric nor the judge moved the verdicts detectably",
    }
    return f"{sentences[Blame(blame)]}: {effects}."
