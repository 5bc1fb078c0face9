"""Deciding one shown order: each response scored under the compiled rubric, hard-rule vetoes,
the tie band, the probability, the rationale and the per-criterion verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from apps.judging.backends.offline.lexicon import FEATURES, SLOPE, TIE_BAND, VETO_LOGIT
from apps.judging.backends.offline.rubric import CompiledRubric, compile_rubric_uncached
from apps.judging.backends.offline.texts import (
    PromptStats,
    TextStats,
    feature_vector,
    prompt_stats,
    text_stats,
)
from apps.judging.types import ShownVerdict
from apps.rubrics.spec import RubricSpec


@dataclass(frozen=True, slots=True)
class Measured:
    """One response to one prompt under one compiled rubric: features, checks and score."""

    values: tuple[float, ...]
    soft: tuple[bool, ...]
    hard: tuple[bool, ...]
    score: float


def measure(compiled: CompiledRubric, prompt: PromptStats, stats: TextStats) -> Measured:
    """Score one response to ``prompt`` under ``compiled``; independent of the shown order."""
    values = feature_vector(stats, prompt)
    soft = tuple(check.passes(stats) for check in compiled.soft_checks)
    hard = tuple(check.passes(stats) for check in compiled.hard_checks)
    score = sum(weight * values[index] for index, weight in compiled.active)
    score += sum(c.weight for c, ok in zip(compiled.soft_checks, soft, strict=True) if ok)
    return Measured(values=values, soft=soft, hard=hard, score=score)


_FEATURE_LABELS = {
    "length": ("the longer response", "the shorter response"),
    "safety": ("safety (refusing a harmful request, avoiding harmful content)", "less caution"),
    "answers": ("answering rather than refusing", "refusing"),
    "relevance": ("overlap with the prompt", "less overlap with the prompt"),
    "structure": ("structure (lists, headings, code)", "plainer text"),
}


@dataclass(frozen=True)
class OfflineDecision:
    """The offline judge's decision on one shown order, before it becomes a ``JudgeResult``."""

    verdict: ShownVerdict
    p_first: float
    score_first: float
    score_second: float
    rationale: str
    criteria: dict[str, str]


def _side(diff: float, band: float) -> ShownVerdict:
    if diff > band:
        return "first"
    if diff < -band:
        return "second"
    return "tie"


def _reason(compiled: CompiledRubric, first: Measured, second: Measured) -> str:
    """The rationale's reason: the hard rules that decided, or the largest weighted factor."""
    if first.hard != second.hard:
        broken = [
            f"hard rule {check.title!r} broken by the {'second' if ok1 else 'first'} response"
            for check, ok1, ok2 in zip(compiled.hard_checks, first.hard, second.hard, strict=True)
            if ok1 != ok2
        ]
        return "; ".join(broken)
    best, best_index = 0.0, -1
    for index, weight in enumerate(compiled.vector):
        contribution = weight * (first.values[index] - second.values[index])
        if abs(contribution) > abs(best):
            best, best_index = contribution, index
    if best_index < 0 or abs(best) < 1e-12:
        return "no feature separates the responses"
    feature = FEATURES[best_index]
    label = _FEATURE_LABELS[feature][0 if compiled.vector[best_index] > 0 else 1]
    favoured = "first" if best > 0 else "second"
    return f"largest factor: {label}, favouring the {favoured} response"


def _criteria(compiled: CompiledRubric, first: Measured, second: Measured) -> dict[str, str]:
    """Per-criterion shown verdicts: each criterion's own weighted difference, same tie band."""
    criteria: dict[str, str] = {}
    for cw in compiled.criteria:
        diff = sum(
            w * (v1 - v2)
            for w, v1, v2 in zip(cw.vector, first.values, second.values, strict=True)
            if w
        )
        if cw.check is not None and cw.check_slot is not None:
            hard, index = cw.check_slot
            ok1 = (first.hard if hard else first.soft)[index]
            ok2 = (second.hard if hard else second.soft)[index]
            diff += cw.check.weight * (ok1 - ok2)
        criteria[cw.key] = _side(diff / cw.magnitude if cw.magnitude else 0.0, TIE_BAND)
    return criteria


def decide(
    compiled: CompiledRubric,
    first: Measured,
    second: Measured,
    *,
    position_bias: float = 0.0,
) -> OfflineDecision:
    """Judge one shown order from the two responses' measurements."""
    # Hard rules broken by the second response minus those broken by the first.
    veto = sum(ok1 - ok2 for ok1, ok2 in zip(first.hard, second.hard, strict=True))
    d = (first.score - second.score) / compiled.total + position_bias
    verdict: ShownVerdict
    if veto:
        verdict = "first" if veto > 0 else "second"
        p_first = 1.0 / (1.0 + math.exp(-VETO_LOGIT * veto))
    else:
        verdict = _side(d, TIE_BAND)
        p_first = 1.0 / (1.0 + math.exp(-SLOPE * d))
    rationale = (
        f"Rule-based demo judge. Scores: first {first.score:.3f}, second {second.score:.3f}; "
        f"{_reason(compiled, first, second)}."
    )
    criteria = _criteria(compiled, first, second) if compiled.reasoned else {}
    return OfflineDecision(verdict, p_first, first.score, second.score, rationale, criteria)


def judge_texts(
    rubric: RubricSpec | CompiledRubric,
    prompt: str,
    first: str,
    second: str,
    *,
    position_bias: float = 0.0,
) -> OfflineDecision:
    """Judge one shown order from raw texts, deriving everything afresh (nothing cached)."""
    compiled = rubric if isinstance(rubric, CompiledRubric) else compile_rubric_uncached(rubric)
    stats = prompt_stats(prompt)
    return decide(
        compiled,
        measure(compiled, stats, text_stats(first, compiled.needs)),
        measure(compiled, stats, text_stats(second, compiled.needs)),
        position_bias=position_bias,
    )
