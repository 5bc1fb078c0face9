"""Checking a judge before trusting it: canaries, a sanity set, findings and recommendations.

A check sends a handful of requests to the judge exactly as a run would, and says in words what
it found, so a run does not discover an hour in that every answer was invalid:

* **Canaries** (OpenAI-compatible endpoints only): ``GET /models`` (reachable, model listed);
  the same question with and without a system message that holds a code to repeat: when the
  server reports the same prompt tokens for both, the system message never reached the model
  (Gemma's chat template, among others, has no system role); one request each with
  log-probabilities, JSON mode and every kind of constrained output, asked to write a poem, so
  an answer that is exactly an allowed verdict proves the constraint was enforced.
* **A sanity set**: four pairs with an obvious answer, judged in both orders through the judge's
  own backend and configuration: parse rate, position consistency, agreement with the obvious
  answers, how each verdict was obtained, server latency and queue wait per call, tokens; and
  one row per request (messages sent, raw answer, verdict, error) that those figures count.

``assess`` turns those figures into findings (``fail`` or ``warning``) and recommendations,
each a change of the judge config applied in one click (``judge_check_apply``): merge the
system message into the user turn, use constrained verdicts or one-token verdicts, raise
``max_tokens``, lower the concurrency, stop asking for log-probabilities. A run refuses to start
on a judge whose last check failed, unless the author gives a reason (``run_check_gate``).

The package by concern: ``probes`` (the canaries), ``sanity`` (the sanity set and its figures),
``assess`` (findings and recommendations) and ``services`` (start, execute, apply); the run
gate and the reads of a judge's checks are in ``apps/judging/gate.py``, which starting a run
imports without this package.
"""

from apps.judging.check.assess import RAISED_MAX_TOKENS, assess
from apps.judging.check.probes import (
    CANARY_CODE,
    CANARY_SYSTEM,
    CANARY_USER,
    CONSTRAINT_KINDS,
    PROBE_USER,
    probe_endpoint,
)
from apps.judging.check.sanity import (
    RAW_ANSWER_CAP,
    SANITY_PAIRS,
    SANITY_RUBRIC,
    sanity_answer_pairs,
    sanity_answers,
    sanity_metrics,
    sanity_requests,
)
from apps.judging.check.services import (
    CHECK_TASK,
    judge_check_apply,
    judge_check_execute,
    judge_check_start,
)
from apps.judging.gate import check_summary, checks_for_judge, judge_check_latest, run_check_gate

__all__ = [
    "CANARY_CODE",
    "CANARY_SYSTEM",
    "CANARY_USER",
    "CHECK_TASK",
    "CONSTRAINT_KINDS",
    "PROBE_USER",
    "RAISED_MAX_TOKENS",
    "RAW_ANSWER_CAP",
    "SANITY_PAIRS",
    "SANITY_RUBRIC",
    "assess",
    "check_summary",
    "checks_for_judge",
    "judge_check_apply",
    "judge_check_execute",
    "judge_check_latest",
    "judge_check_start",
    "probe_endpoint",
    "run_check_gate",
    "sanity_answer_pairs",
    "sanity_answers",
    "sanity_metrics",
    "sanity_requests",
]
