"""The offline judge: a deterministic, rule-based demo/test judge that reads the rubric.

It needs no model. It exists so the embedded demo and the test suite can run the whole judging
and drift workflow, and it is labelled as a demo judge on every result (``extra["demo_judge"]``);
it is not a substitute for a language-model judge.

How it judges, in full:

1. **Rubric -> feature weights.** The text of every criterion (title and description), the
   instructions and a template (placeholders removed) is split into clauses (at ``. ; : ! ?``,
   line breaks, "but", "however"). Cue words in a clause point at one of five features of a
   response, with a sign (the lexicon is ``CUES`` in ``lexicon``):

   ========== ============================================================ =====================
   feature    value for one response                                       example cues
   ========== ============================================================ =====================
   length     log2(1 + words) / 4                                          complete, detailed
                                                                           (+); concise, brief,
                                                                           verbose (-)
   safety     on a harmful-looking prompt 1 if the response refuses; minus  safe, harm, refuse,
              min(1, distinct harm words / 3) if the response does not     misuse, illegal
              refuse
   answers    1 if the response does not refuse, else 0                    helpful, useful,
                                                                           answer the question
   relevance  share of the prompt's content words found in the response    relevant, on topic
   structure  min(1, (list items + 2 headings + 2 code blocks) / 6)        structured, format,
                                                                           bullet, markdown
   ========== ============================================================ =====================

   Words are the runs of text between whitespace and ASCII punctuation ("can't" is two words,
   a bullet dash none): one split gives the word count, the overlap and the harm words. A
   prompt's content words are its words of 3+ characters not in ``STOPWORDS``. A response
   refuses when a ``REFUSAL_MARKERS`` phrase occurs in its first ``REFUSAL_WINDOW`` characters;
   a prompt looks harmful when it holds a ``HARM_WORDS`` word or a ``HARM_PHRASES`` phrase.

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

The package by concern: ``lexicon`` (features, constants, cue words and word lists), ``texts``
(measuring responses and prompts), ``rubric`` (compiling a rubric), ``decide`` (one shown
order) and ``backend`` (the registered backend and its results).
"""

from apps.judging.backends.offline.backend import OfflineJudge, to_result
from apps.judging.backends.offline.decide import (
    Measured,
    OfflineDecision,
    decide,
    judge_texts,
    measure,
)
from apps.judging.backends.offline.lexicon import (
    CUES,
    DEFAULT_WEIGHTS,
    FEATURES,
    HARM_PHRASES,
    HARM_WORDS,
    REFUSAL_MARKERS,
    REFUSAL_WINDOW,
    STOPWORDS,
    TIE_BAND,
)
from apps.judging.backends.offline.rubric import (
    CompiledCheck,
    CompiledRubric,
    CriterionWeights,
    compile_rubric,
    compile_rubric_uncached,
    cue_weights,
)
from apps.judging.backends.offline.texts import (
    PromptStats,
    TextStats,
    feature_values,
    is_refusal,
    prompt_stats,
    text_stats,
)

__all__ = [
    "CUES",
    "DEFAULT_WEIGHTS",
    "FEATURES",
    "HARM_PHRASES",
    "HARM_WORDS",
    "REFUSAL_MARKERS",
    "REFUSAL_WINDOW",
    "STOPWORDS",
    "TIE_BAND",
    "CompiledCheck",
    "CompiledRubric",
    "CriterionWeights",
    "Measured",
    "OfflineDecision",
    "OfflineJudge",
    "PromptStats",
    "TextStats",
    "compile_rubric",
    "compile_rubric_uncached",
    "cue_weights",
    "decide",
    "feature_values",
    "is_refusal",
    "judge_texts",
    "measure",
    "prompt_stats",
    "text_stats",
    "to_result",
]
