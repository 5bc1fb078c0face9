"""A rubric compiled for the offline judge: feature weights from its cue words, machine checks
as predicates, per-criterion shares; cached by content."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from apps.judging.backends.offline.lexicon import (
    CLAUSE_SPLIT_RE,
    CUE_RE,
    CUES,
    DEFAULT_WEIGHTS,
    DISCOUNT_RE,
    FEATURES,
    HARD_RULE_FACTOR,
    INSTRUCTIONS_WEIGHT,
    NEGATION_RE,
    PLACEHOLDER_RE,
    TEMPLATE_WEIGHT,
    VIRTUE,
)
from apps.judging.backends.offline.texts import TextStats
from apps.rubrics.spec import CriterionSpec, RubricSpec


@dataclass(frozen=True)
class CompiledCheck:
    """A criterion's machine check, ready to apply to a response."""

    key: str
    title: str
    weight: float
    hard: bool
    passes: Callable[[TextStats], bool]


@dataclass(frozen=True)
class CriterionWeights:
    """One criterion's share of the judge: feature weights (in ``FEATURES`` order) or a check.

    ``check_slot`` is ``(hard, index)`` of its check in the compiled rubric's check tuples.
    """

    key: str
    title: str
    vector: tuple[float, ...]
    check: CompiledCheck | None
    check_slot: tuple[bool, int] | None
    magnitude: float


@dataclass(frozen=True)
class CompiledRubric:
    """What the offline judge needs from a rubric, derived once per rubric content.

    ``weights`` maps a feature to its total weight; ``vector`` holds the same in ``FEATURES``
    order for the inner loop.
    """

    weights: dict[str, float]
    vector: tuple[float, ...]
    active: tuple[tuple[int, float], ...]
    soft_checks: tuple[CompiledCheck, ...]
    hard_checks: tuple[CompiledCheck, ...]
    criteria: tuple[CriterionWeights, ...]
    total: float
    reasoned: bool
    notes: tuple[str, ...] = ()
    needs: frozenset[str] = field(default_factory=frozenset)


def cue_weights(text: str) -> dict[str, float]:
    """Signed cue counts per feature in ``text``, clipped to [-1, 1] (see the module docstring)."""
    tally: dict[str, float] = {}
    for clause in CLAUSE_SPLIT_RE.split(text):
        if not clause.strip():
            continue
        matches = list(CUE_RE.finditer(clause))
        if not matches:
            continue
        discounted = DISCOUNT_RE.search(clause) is not None
        negations = [m.start() for m in NEGATION_RE.finditer(clause)]
        for match in matches:
            index = int(match.lastgroup[1:])  # type: ignore[index]
            _pattern, feature, sign, kind = CUES[index]
            if kind == VIRTUE and (discounted or any(pos < match.start() for pos in negations)):
                continue
            tally[feature] = tally.get(feature, 0.0) + sign
    return {f: max(-1.0, min(1.0, v)) for f, v in tally.items() if v}


def _spread(cues: dict[str, float], weight: float) -> dict[str, float]:
    """Scale cue values so their absolute values add up to ``weight``."""
    norm = sum(abs(v) for v in cues.values())
    if not norm or not weight:
        return {}
    return {f: weight * v / norm for f, v in cues.items()}


def _compile_check(criterion: CriterionSpec) -> CompiledCheck | str:
    """The criterion's check as a predicate, or a note saying why it cannot be used."""
    check = criterion.check or {}
    kind = str(check.get("type", ""))
    value = check.get("value")
    passes: Callable[[TextStats], bool]
    if kind in ("required_phrase", "forbidden_phrase"):
        phrase = str(value or "").lower()
        if not phrase:
            return f"criterion {criterion.key!r}: empty phrase"
        wanted = kind == "required_phrase"
        passes = lambda s: (phrase in s.lower) is wanted  # noqa: E731
    elif kind in ("regex", "forbidden_regex"):
        try:
            pattern = re.compile(str(value or ""))
        except re.error as exc:
            return f"criterion {criterion.key!r}: bad regular expression ({exc})"
        wanted = kind == "regex"
        passes = lambda s: (pattern.search(s.text) is not None) is wanted  # noqa: E731
    elif kind in ("max_words", "min_words"):
        try:
            limit = int(str(value))
        except ValueError:
            return f"criterion {criterion.key!r}: {kind} needs a whole number"
        sign = 1 if kind == "max_words" else -1
        passes = lambda s: sign * s.words <= sign * limit  # noqa: E731
    else:
        return f"criterion {criterion.key!r}: unknown check {kind!r}"
    return CompiledCheck(
        key=criterion.key,
        title=criterion.title,
        weight=abs(criterion.weight),
        hard=criterion.kind == "hard_rule",
        passes=passes,
    )


def compile_rubric_uncached(rubric: RubricSpec) -> CompiledRubric:
    """Derive the judge's weights and checks from a rubric (no caching; see ``compile_rubric``)."""
    weights: dict[str, float] = {}
    soft: list[CompiledCheck] = []
    hard: list[CompiledCheck] = []
    per_criterion: list[CriterionWeights] = []
    notes: list[str] = []

    def add(vector: dict[str, float]) -> None:
        for f, v in vector.items():
            weights[f] = weights.get(f, 0.0) + v

    for criterion in rubric.criteria:
        check: CompiledCheck | None = None
        vector: dict[str, float] = {}
        if criterion.check:
            compiled = _compile_check(criterion)
            if isinstance(compiled, str):
                notes.append(compiled)
            else:
                check = compiled
                (hard if compiled.hard else soft).append(compiled)
        if check is None:
            factor = HARD_RULE_FACTOR if criterion.kind == "hard_rule" else 1.0
            cues = cue_weights(f"{criterion.title}.\n{criterion.description}")
            vector = _spread(cues, criterion.weight * factor)
            if not vector:
                notes.append(f"criterion {criterion.key!r}: no cue the demo judge can read")
            add(vector)
        magnitude = sum(abs(v) for v in vector.values()) + (check.weight if check else 0.0)
        slot = None
        if check is not None:
            slot = (True, len(hard) - 1) if check.hard else (False, len(soft) - 1)
        per_criterion.append(
            CriterionWeights(
                key=criterion.key,
                title=criterion.title,
                vector=tuple(vector.get(f, 0.0) for f in FEATURES),
                check=check,
                check_slot=slot,
                magnitude=magnitude,
            )
        )
    add(_spread(cue_weights(rubric.instructions), INSTRUCTIONS_WEIGHT))
    add(_spread(cue_weights(PLACEHOLDER_RE.sub(" ", rubric.template)), TEMPLATE_WEIGHT))
    weights = {f: v for f, v in weights.items() if v}
    if not weights and not soft and not hard:
        weights = dict(DEFAULT_WEIGHTS)
        notes.append("no readable cue in the rubric: default weights used")
    total = sum(abs(v) for v in weights.values()) + sum(c.weight for c in soft)
    return CompiledRubric(
        weights=weights,
        vector=tuple(weights.get(f, 0.0) for f in FEATURES),
        active=tuple((i, weights[f]) for i, f in enumerate(FEATURES) if f in weights),
        soft_checks=tuple(soft),
        hard_checks=tuple(hard),
        criteria=tuple(per_criterion),
        total=total or 1.0,
        reasoned=rubric.output_format == "reasoned",
        notes=tuple(notes),
        needs=frozenset(weights),
    )


def compile_rubric(rubric: RubricSpec) -> CompiledRubric:
    """``compile_rubric_uncached``, cached by the rubric's content.

    ``RubricSpec`` holds dicts (machine checks), so it is not hashable; its ``repr`` is a
    faithful content key. Only the key takes part in the cache lookup.
    """
    return _CompileKey(rubric).compiled()


class _CompileKey:
    """Wraps a rubric so the LRU cache hashes and compares it by its ``repr`` only."""

    __slots__ = ("content", "rubric")

    def __init__(self, rubric: RubricSpec) -> None:
        self.rubric = rubric
        self.content = repr(rubric)

    def __hash__(self) -> int:
        return hash(self.content)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _CompileKey) and other.content == self.content

    def compiled(self) -> CompiledRubric:
        return _compile_cached(self)


@functools.lru_cache(maxsize=64)
def _compile_cached(key: _CompileKey) -> CompiledRubric:
    return compile_rubric_uncached(key.rubric)
