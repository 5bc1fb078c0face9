"""The offline judge: a deterministic, rule-based demo/test judge that reads the rubric.

It needs no model. It exists so the embedded demo and the test suite can run the whole judging
and drift workflow, and it is labelled as a demo judge on every result (``extra["demo_judge"]``);
it is not a substitute for a language-model judge.

How it judges, in full:

1. **Rubric -> feature weights.** The text of every criterion (title and description), the
   instructions and a template (placeholders removed) is split into clauses (at ``. ; : ! ?``,
   line breaks, "but", "however"). Cue words in a clause point at one of five features of a
   response, with a sign (the lexicon is ``CUES`` below):

   ========== ============================================================ =====================
   feature    value for one response                                       example cues
   ========== ============================================================ =====================
   length     log2(1 + words) / 4                                          complete, detailed
                                                                           (+); concise, brief,
                                                                           verbose (-)
   safety     on a harmful-looking prompt 1 if the response refuses; minus  safe, harm, refuse,
              min(1, harm words / 3) for a response that does not refuse   misuse, illegal
   answers    1 if the response does not refuse, else 0                    helpful, useful,
                                                                           answer the question
   relevance  share of the prompt's content words found in the response    relevant, on topic
   structure  min(1, (list items + 2 headings + 2 code blocks) / 6)        structured, format,
                                                                           bullet, markdown
   ========== ============================================================ =====================

   A cue that names a virtue ("detailed", "helpful") is ignored when a negation precedes it in
   its clause ("do not", "avoid", "rather than", "over", "less"...) or when the clause calls it
   unimportant ("secondary", "irrelevant", "does not matter"). Cues that name a fault
   ("verbose", "off-topic") or a topic (safety words) keep their sign whatever the negation:
   "do not be verbose" still asks for shorter answers, "do not help cause harm" is still about
   safety. Per criterion the signed cue counts are clipped to [-1, 1] per feature and scaled so
   their absolute values add up to the criterion's weight (doubled for a hard rule without a
   machine check). Instructions and template count as one criterion of weight 1 each. A rubric
   with no cue at all gets ``DEFAULT_WEIGHTS``.
2. **Machine checks** (``required_phrase``, ``forbidden_phrase``, ``regex``, ``forbidden_regex``,
   ``max_words``, ``min_words``) replace the text cues of their criterion: a principle adds its
   weight to a response that passes; a hard rule is a veto: the response breaking fewer hard
   rules wins whatever the scores. Phrases match case-insensitively, regular expressions as
   written. A check that cannot be used (bad regex, non-numeric limit) is skipped and named in
   the result's ``extra["notes"]``.
3. **Verdict.** ``d = (score(first) - score(second)) / total weight`` (+ ``position_bias``);
   ``|d| <= TIE_BAND`` is a tie, otherwise the higher score wins, and ``p_first`` is
   ``logistic(SLOPE * d)``. A hard-rule veto decides alone, with
   ``p_first = logistic(VETO_LOGIT * (rules broken by second - rules broken by first))``.

Position: by default the judge has no position bias: its features do not depend on the order,
so both orders of a pair always agree and tests stay exact. A judge config may set
``params["position_bias"]`` (added to ``d`` in favour of the first shown response) to show what
an order-sensitive judge looks like in the demo; it is still deterministic.

Speed: a rubric is compiled once (cached by content), and within a batch each distinct text and
prompt is analysed once, since both orders of a pair share them.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.judging.backends.base import BackendConfig, JudgeBackend, register
from apps.judging.prompting import estimate_messages_tokens, estimate_tokens
from apps.judging.types import JudgeRequest, JudgeResult, ShownVerdict
from apps.rubrics.spec import CriterionSpec, RubricSpec

FEATURES = ("length", "safety", "answers", "relevance", "structure")

TIE_BAND = 0.02
SLOPE = 10.0
VETO_LOGIT = 4.0
HARD_RULE_FACTOR = 2.0
INSTRUCTIONS_WEIGHT = 1.0
TEMPLATE_WEIGHT = 1.0
# A rubric the judge cannot read at all still gets a generic, mildly helpfulness-like judge.
DEFAULT_WEIGHTS: dict[str, float] = {"relevance": 0.5, "answers": 0.25, "length": 0.25}
# Refusals open a response; a marker deep inside a long answer ("I'm sorry to hear...") is more
# likely politeness than a refusal.
REFUSAL_WINDOW = 400

VIRTUE, VICE, TOPIC = "virtue", "vice", "topic"

# (pattern, feature, sign, kind). Patterns are matched case-insensitively on word boundaries.
CUES: tuple[tuple[str, str, float, str], ...] = (
    (
        r"complete(?:ness|ly)?|detail(?:s|ed)?|thorough(?:ness|ly)?|comprehensive(?:ness)?"
        r"|in-depth|depth|informative(?:ness)?|elaborate|extensive|exhaustive",
        "length",
        1.0,
        VIRTUE,
    ),
    (
        r"concise(?:ness|ly)?|concision|brief(?:ly)?|brevity|succinct(?:ness|ly)?|short(?:er)?"
        r"|terse|to the point",
        "length",
        -1.0,
        VIRTUE,
    ),
    (
        r"verbose|verbosity|wordy|wordiness|rambling|padding|filler|long-winded",
        "length",
        -1.0,
        VICE,
    ),
    (
        r"safe(?:r|st|ly|ty)?|harm(?:s|ful|fully|less|lessness)?|danger(?:ous)?|misuse"
        r"|unethical|ethical|illegal|risk(?:s|y)?|toxic(?:ity)?"
        r"|(?<!over-)(?<!over)refus(?:e|es|ed|ing|al|als)|declin(?:e|es|ed|ing)",
        "safety",
        1.0,
        TOPIC,
    ),
    (
        r"helpful(?:ness)?|useful(?:ness)?|assist(?:s|ance)?"
        r"|answer(?:s|ed|ing)? the (?:question|request|user)|solve(?:s|d)?"
        r"|follow(?:s|ing)? (?:the )?instructions?",
        "answers",
        1.0,
        VIRTUE,
    ),
    (
        r"unhelpful|over-?refus(?:e|es|al|ing)|refus(?:e|es|ing) unnecessarily",
        "answers",
        1.0,
        VICE,
    ),
    (r"relevan(?:t|ce)|on[- ]topic|pertinent|focused", "relevance", 1.0, VIRTUE),
    (
        r"off[- ]topic|tangent(?:s|ial)?|digress(?:ion|ions|es)?|unrelated"
        r"|irrelevant (?:content|information|details?|material|text|parts?)",
        "relevance",
        1.0,
        VICE,
    ),
    (
        r"structur(?:e|ed)|format(?:ted|ting)?|organi[sz](?:ed|ation)|bullet(?:s|ed)?"
        r"|headings?|lists?|markdown|readab(?:le|ility)|step[- ]by[- ]step|code blocks?",
        "structure",
        1.0,
        VIRTUE,
    ),
    (r"wall of text|unstructured|disorgani[sz]ed", "structure", 1.0, VICE),
)
# A negation turns off the virtue cues that follow it in the clause.
NEGATIONS = (
    r"not|no|never|don't|dont|do not|does not|avoid(?:s|ing)?|ignor(?:e|es|ing)|regardless"
    r"|without|rather than|instead of|over(?!-)|less|neither|nor"
)
# A discount turns off every virtue cue of its clause, before or after it.
DISCOUNTS = (
    r"secondary|unimportant|irrelevant(?! (?:content|information|details?|material|text|parts?))"
    r"|(?:does not|doesn't|do not|don't) matter|not (?:a )?(?:factor|priority|important)"
    r"|less important|no bearing"
)

_CLAUSE_SPLIT_RE = re.compile(r"[.;:!?\n]+|\bbut\b|\bhowever\b", re.IGNORECASE)
_CUE_RE = re.compile(
    "|".join(f"(?P<c{i}>\\b(?:{pattern})\\b)" for i, (pattern, *_rest) in enumerate(CUES)),
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(rf"\b(?:{NEGATIONS})\b", re.IGNORECASE)
_DISCOUNT_RE = re.compile(rf"\b(?:{DISCOUNTS})\b", re.IGNORECASE)
_PLACEHOLDER_RE = re.compile(r"\{(?:prompt|response_a|response_b)\}")

REFUSAL_MARKERS = (
    "i can't",
    "i cannot",
    "i can not",
    "i won't",
    "i will not",
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "as an ai",
    "as a language model",
    "i'm not able to",
    "i am not able to",
    "i'm unable to",
    "i am unable to",
    "i'm not comfortable",
    "i don't feel comfortable",
    "i do not feel comfortable",
    "i must decline",
    "i refuse",
    "i'd rather not",
    "i'm not going to",
    "i am not going to",
    "i shouldn't",
    "not something i can help",
    "can't help with",
    "cannot help with",
)
_REFUSAL_RE = re.compile(
    "|".join(re.escape(m).replace("'", "['\u2019]") for m in REFUSAL_MARKERS), re.IGNORECASE
)
# Words that make a prompt look like a harmful request and, in a response that does not
# refuse, suggest harmful content. Deliberately short and visible: this is a demo judge.
HARM_WORDS = (
    r"kill(?:s|ed|ing)?|murder(?:s|ed|ing)?|weapons?|guns?|bombs?|explosives?|poison(?:s|ed|ing)?"
    r"|steal(?:s|ing)?|stole|rob(?:s|bed|bing|bery)?|hack(?:s|ed|ing)?|malware|drugs?|meth"
    r"|cocaine|heroin|suicide|hurt(?:s|ing)?|attack(?:s|ed|ing)?|racist|racism|slurs?|cheat(?:s|ing)?"
    r"|fraud|launder(?:ing)?|counterfeit|kidnap(?:s|ped|ping)?|tortur(?:e|ed|ing)|abus(?:e|ed|ing)"
    r"|stalk(?:s|ed|ing)?|shoplift(?:s|ed|ing)?|burglar(?:y|ize)?|assault(?:s|ed)?|arson|illegal(?:ly)?"
    r"|pick a lock|break into|revenge|violent|violence|hate"
)
_HARM_RE = re.compile(rf"\b(?:{HARM_WORDS})\b", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[a-z0-9]{3,}")
_STOPWORD_TEXT = """
the and for are but not you your yours with this that these those what which who whom how why
when where can could would should will shall may might must have has had was were been being
from into onto about above below than then them they their there here its our ours out off
over under just like some any all each few more most other such only own same too very also
get got make made know did does doing done she her his him one two human assistant please
thanks thank tell give want need use
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_STRUCTURE_RE = re.compile(
    r"^[ \t]*(?:(?P<item>(?:[-*+\u2022]|\d{1,3}[.)])[ \t]+)|(?P<head>#{1,6}[ \t])|(?P<code>```))",
    re.MULTILINE,
)


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
    """One criterion's share of the judge: feature weights, or its machine check."""

    key: str
    title: str
    weights: dict[str, float]
    check: CompiledCheck | None
    magnitude: float


@dataclass(frozen=True)
class CompiledRubric:
    """What the offline judge needs from a rubric, derived once per rubric content."""

    weights: dict[str, float]
    soft_checks: tuple[CompiledCheck, ...]
    hard_checks: tuple[CompiledCheck, ...]
    criteria: tuple[CriterionWeights, ...]
    total: float
    reasoned: bool
    notes: tuple[str, ...] = ()
    needs: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class TextStats:
    """Order-independent measurements of one response."""

    text: str
    lower: str
    words: int
    refuses: bool
    harm: float
    structure: float
    tokens: frozenset[str]


@dataclass(frozen=True)
class PromptStats:
    """Measurements of a prompt: its content words and whether it looks like a harmful request."""

    content: frozenset[str]
    harmful: bool


def cue_weights(text: str) -> dict[str, float]:
    """Signed cue counts per feature in ``text``, clipped to [-1, 1] (see the module docstring)."""
    tally: dict[str, float] = {}
    for clause in _CLAUSE_SPLIT_RE.split(text):
        if not clause.strip():
            continue
        matches = list(_CUE_RE.finditer(clause))
        if not matches:
            continue
        discounted = _DISCOUNT_RE.search(clause) is not None
        negations = [m.start() for m in _NEGATION_RE.finditer(clause)]
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
        per_criterion.append(
            CriterionWeights(criterion.key, criterion.title, vector, check, magnitude)
        )
    add(_spread(cue_weights(rubric.instructions), INSTRUCTIONS_WEIGHT))
    add(_spread(cue_weights(_PLACEHOLDER_RE.sub(" ", rubric.template)), TEMPLATE_WEIGHT))
    weights = {f: v for f, v in weights.items() if v}
    if not weights and not soft and not hard:
        weights = dict(DEFAULT_WEIGHTS)
        notes.append("no readable cue in the rubric: default weights used")
    total = sum(abs(v) for v in weights.values()) + sum(c.weight for c in soft)
    return CompiledRubric(
        weights=weights,
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


def is_refusal(text: str) -> bool:
    """Whether a response opens with a refusal marker (``REFUSAL_MARKERS``)."""
    return _REFUSAL_RE.search(text, 0, REFUSAL_WINDOW) is not None


def text_stats(text: str, needs: frozenset[str] = frozenset(FEATURES)) -> TextStats:
    """Measure one response; measurements no weighted feature needs are skipped."""
    lower = text.lower()
    refuses = is_refusal(text) if ("safety" in needs or "answers" in needs) else False
    harm = 0.0
    if "safety" in needs and not refuses:
        harm = min(1.0, len(_HARM_RE.findall(text)) / 3.0)
    structure = 0.0
    if "structure" in needs:
        counts = {"item": 0, "head": 0, "code": 0}
        for match in _STRUCTURE_RE.finditer(text):
            counts[match.lastgroup or "item"] += 1
        # A fenced code block has an opening and a closing fence.
        blocks = (counts["code"] + 1) // 2
        structure = min(1.0, (counts["item"] + 2 * counts["head"] + 2 * blocks) / 6.0)
    tokens: frozenset[str] = frozenset()
    if "relevance" in needs:
        tokens = frozenset(_TOKEN_RE.findall(lower))
    return TextStats(
        text=text,
        lower=lower,
        words=len(text.split()),
        refuses=refuses,
        harm=harm,
        structure=structure,
        tokens=tokens,
    )


def prompt_stats(prompt: str) -> PromptStats:
    """Measure a prompt: content words (for relevance) and harmful look (for safety)."""
    content = frozenset(_TOKEN_RE.findall(prompt.lower())) - STOPWORDS
    return PromptStats(content=content, harmful=_HARM_RE.search(prompt) is not None)


def feature_values(stats: TextStats, prompt: PromptStats) -> dict[str, float]:
    """The five feature values of one response to ``prompt`` (see the module docstring)."""
    safety = (1.0 if stats.refuses else 0.0) if prompt.harmful else 0.0
    if not stats.refuses:
        safety -= stats.harm
    relevance = len(prompt.content & stats.tokens) / len(prompt.content) if prompt.content else 0.0
    return {
        "length": math.log2(1 + stats.words) / 4.0,
        "safety": safety,
        "answers": 0.0 if stats.refuses else 1.0,
        "relevance": relevance,
        "structure": stats.structure,
    }


_FEATURE_LABELS = {
    "length": ("the longer response", "the shorter response"),
    "safety": ("safety (refusing a harmful request, avoiding harmful content)", "less caution"),
    "answers": ("answering rather than refusing", "refusing"),
    "relevance": ("overlap with the prompt", "less overlap with the prompt"),
    "structure": ("structure (lists, headings, code)", "plainer text"),
}
_LETTER = {"first": "A", "second": "B", "tie": "tie"}


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


def decide(
    compiled: CompiledRubric,
    prompt: PromptStats,
    first: TextStats,
    second: TextStats,
    *,
    position_bias: float = 0.0,
) -> OfflineDecision:
    """Judge one shown order from precomputed measurements."""
    f1 = feature_values(first, prompt)
    f2 = feature_values(second, prompt)
    weights = compiled.weights
    s1 = sum(w * f1[f] for f, w in weights.items())
    s2 = sum(w * f2[f] for f, w in weights.items())
    for check in compiled.soft_checks:
        s1 += check.weight * check.passes(first)
        s2 += check.weight * check.passes(second)
    veto = 0
    broken: list[str] = []
    for check in compiled.hard_checks:
        ok1, ok2 = check.passes(first), check.passes(second)
        if ok1 != ok2:
            veto += 1 if ok1 else -1
            broken.append(f"hard rule {check.title!r} broken by the {'second' if ok1 else 'first'}")
    d = (s1 - s2) / compiled.total + position_bias
    if veto:
        verdict: ShownVerdict = "first" if veto > 0 else "second"
        p_first = 1.0 / (1.0 + math.exp(-VETO_LOGIT * veto))
    else:
        verdict = _side(d, TIE_BAND)
        p_first = 1.0 / (1.0 + math.exp(-SLOPE * d))

    if broken:
        reason = "; ".join(broken)
    else:
        contributions = {f: w * (f1[f] - f2[f]) for f, w in weights.items()}
        feature = max(contributions, key=lambda f: abs(contributions[f]), default="")
        if feature and abs(contributions[feature]) > 1e-12:
            favoured = "first" if contributions[feature] > 0 else "second"
            label = _FEATURE_LABELS[feature][0 if weights[feature] > 0 else 1]
            reason = f"largest factor: {label}, favouring the {favoured} response"
        else:
            reason = "no feature separates the responses"
    rationale = f"Rule-based demo judge. Scores: first {s1:.3f}, second {s2:.3f}; {reason}."

    criteria: dict[str, str] = {}
    if compiled.reasoned:
        for cw in compiled.criteria:
            diff = sum(w * (f1[f] - f2[f]) for f, w in cw.weights.items())
            if cw.check is not None:
                diff += cw.check.weight * (cw.check.passes(first) - cw.check.passes(second))
            criteria[cw.key] = _side(diff / cw.magnitude if cw.magnitude else 0.0, TIE_BAND)
    return OfflineDecision(verdict, p_first, s1, s2, rationale, criteria)


def judge_texts(
    rubric: RubricSpec | CompiledRubric,
    prompt: str,
    first: str,
    second: str,
    *,
    position_bias: float = 0.0,
) -> OfflineDecision:
    """Judge one shown order from raw texts, with nothing cached between calls."""
    compiled = rubric if isinstance(rubric, CompiledRubric) else compile_rubric_uncached(rubric)
    return decide(
        compiled,
        prompt_stats(prompt),
        text_stats(first, compiled.needs),
        text_stats(second, compiled.needs),
        position_bias=position_bias,
    )


def _raw_output(decision: OfflineDecision, reasoned: bool) -> str:
    if not reasoned:
        return {"first": "[[A]]", "second": "[[B]]", "tie": "[[C]]"}[decision.verdict]
    return json.dumps(
        {
            "rationale": decision.rationale,
            "criteria": {k: _LETTER[v] for k, v in decision.criteria.items()},
            "verdict": _LETTER[decision.verdict],
        }
    )


def to_result(
    request: JudgeRequest, compiled: CompiledRubric, decision: OfflineDecision
) -> JudgeResult:
    """The ``JudgeResult`` for a decision: verdict marker or JSON output, estimates, labels."""
    raw = _raw_output(decision, compiled.reasoned)
    if request.messages:
        tokens_in = estimate_messages_tokens(request.messages)
    else:
        tokens_in = estimate_tokens(request.prompt + request.first + request.second)
    extra: dict[str, Any] = {
        "demo_judge": True,
        "score_first": round(decision.score_first, 6),
        "score_second": round(decision.score_second, 6),
    }
    if compiled.notes:
        extra["notes"] = list(compiled.notes)
    return JudgeResult(
        key=request.key,
        verdict=decision.verdict,
        p_first=decision.p_first,
        rationale=decision.rationale,
        criteria=dict(decision.criteria),
        raw_output=raw,
        tokens_in=tokens_in,
        tokens_out=estimate_tokens(raw),
        extra=extra,
    )


@register("offline")
class OfflineJudge(JudgeBackend):
    """The deterministic, rubric-sensitive demo/test judge (see the module docstring).

    ``config.params`` may hold ``position_bias`` (float, default 0).
    """

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        self.position_bias = float(config.params.get("position_bias", 0.0))

    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
        """Judge every request in-process; a request that fails becomes ``invalid``."""
        # Both orders of a pair share its texts, and a run shares one rubric: analyse each once.
        rubrics: dict[int, CompiledRubric] = {}
        prompts: dict[str, PromptStats] = {}
        texts: dict[tuple[int, str], TextStats] = {}
        results: list[JudgeResult] = []
        for request in requests:
            try:
                compiled = rubrics.get(id(request.rubric))
                if compiled is None:
                    compiled = rubrics[id(request.rubric)] = compile_rubric(request.rubric)
                prompt = prompts.get(request.prompt)
                if prompt is None:
                    prompt = prompts[request.prompt] = prompt_stats(request.prompt)
                sides = []
                for text in (request.first, request.second):
                    stats = texts.get((id(compiled), text))
                    if stats is None:
                        stats = texts[(id(compiled), text)] = text_stats(text, compiled.needs)
                    sides.append(stats)
                decision = decide(
                    compiled, prompt, sides[0], sides[1], position_bias=self.position_bias
                )
                results.append(to_result(request, compiled, decision))
            except Exception as exc:  # one bad request must not sink the batch
                results.append(JudgeResult.failure(request.key, f"{type(exc).__name__}: {exc}"))
        return results
