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
  answers, how each verdict was obtained, server latency and queue wait per call, tokens.

``assess`` turns those figures into findings (``fail`` or ``warning``) and recommendations,
each a change of the judge config applied in one click (``judge_check_apply``): merge the
system message into the user turn, use constrained verdicts or one-token verdicts, raise
``max_tokens``, lower the concurrency, stop asking for log-probabilities. A run refuses to start
on a judge whose last check failed, unless the author gives a reason (``run_check_gate``).
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core import egress
from apps.core.services import actor_or_none, audit_event_record
from apps.judging.backends.base import BackendConfig, backend_class
from apps.judging.models import Backend, CheckStatus, JudgeCheck, JudgeConfig
from apps.judging.options import CHOICES, constraint_arguments, judge_options
from apps.judging.parsing import extract_json_object
from apps.judging.prompting import make_request
from apps.judging.protocol import to_pair_verdict
from apps.judging.services.configs import backend_config_for, judge_config_errors
from apps.judging.types import ORDERS, JudgeRequest, JudgeResult, Mode, Order, PairText
from apps.rubrics.spec import CriterionSpec, RubricSpec
from rubricstudio.celery import app as celery_app

log = logging.getLogger(__name__)

# The built-in sanity set: (prompt, the obviously better response, the obviously worse one).
SANITY_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("What is 2 + 2?", "2 + 2 = 4.", "2 + 2 = 5."),
    (
        "What is the capital of France?",
        "The capital of France is Paris.",
        "The capital of France is Berlin.",
    ),
    ("How many days are in a week?", "There are seven days in a week.", "Maybe twelve or so."),
    (
        "Write one sentence about cats.",
        "Cats are small, curious animals that many people keep as pets.",
        "asdf qwer zxcv.",
    ),
)
SANITY_RUBRIC = RubricSpec(
    instructions="Prefer the response that answers the prompt correctly.",
    criteria=(
        CriterionSpec(
            key="correct",
            title="Correctness",
            description="The facts are right and the prompt is answered.",
        ),
    ),
)
CANARY_CODE = "7319"
CANARY_SYSTEM = f"Reply with exactly this code and nothing else: {CANARY_CODE}"
CANARY_USER = "What is the code? Reply with the code only."
# The option probes ask for something that is never a verdict: only an enforced constraint
# makes the answer one of the allowed verdicts.
PROBE_USER = "Write a short poem about the sea."
CONSTRAINT_KINDS = ("json_schema", "guided_choice", "grammar")
# A larger max_tokens for answers that were cut off before their verdict.
RAISED_MAX_TOKENS = {"verdict": 64, "reasoned": 2048}


# --- probes of an OpenAI-compatible endpoint ------------------------------------------------


@dataclass
class _Answer:
    """One probe call: the completion's JSON, or the HTTP status and message of its failure."""

    body: dict[str, Any] | None
    status: int | None
    error: str
    seconds: float

    @property
    def content(self) -> str:
        if not self.body:
            return ""
        try:
            return str(self.body["choices"][0]["message"].get("content") or "")
        except (KeyError, IndexError, TypeError, AttributeError):
            return ""

    @property
    def prompt_tokens(self) -> int | None:
        usage = (self.body or {}).get("usage") or {}
        value = usage.get("prompt_tokens")
        return int(value) if isinstance(value, int) else None


class _Prober:
    """Plain calls to the endpoint through the openai SDK (no retries: a probe reports)."""

    def __init__(self, config: BackendConfig) -> None:
        import openai

        self._openai = openai
        self.config = config
        self.timeout_s = float(config.params.get("timeout_s", 60.0))
        # Every connection passes the operator's egress policy, as the backend's do.
        self.client = openai.OpenAI(
            base_url=config.base_url or None,
            api_key=config.api_key or "unused",
            max_retries=0,
            timeout=self.timeout_s,
            http_client=egress.sync_http_client(timeout=self.timeout_s),
        )

    def close(self) -> None:
        self.client.close()

    def models(self) -> tuple[list[str] | None, str]:
        try:
            page = self.client.models.list()
        except self._openai.APIStatusError as exc:
            # The server answered: reachable, but it does not list models.
            return None, f"HTTP {exc.status_code}"
        except self._openai.APIError as exc:
            raise ConnectionError(str(exc)) from exc
        return [model.id for model in page.data], ""

    def chat(self, messages: Sequence[Mapping[str, str]], **extra: Any) -> _Answer:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [dict(m) for m in messages],
            "temperature": 0.0,
            "max_tokens": 16,
        }
        max_tokens_field = str(self.config.params.get("max_tokens_field", "max_tokens"))
        if max_tokens_field != "max_tokens":
            body[max_tokens_field] = body.pop("max_tokens")
        body.update(extra)
        started = time.monotonic()
        try:
            # ``post`` with a ready body, as the backend does: probes send server-specific keys.
            raw = self.client.post("/chat/completions", body=body, cast_to=object)
        except self._openai.APIStatusError as exc:
            return _Answer(None, exc.status_code, str(exc.message)[:300], _since(started))
        except self._openai.APIError as exc:
            return _Answer(None, None, f"{type(exc).__name__}: {exc}"[:300], _since(started))
        body_json = raw if isinstance(raw, dict) else None
        error = "" if body_json else "not a chat completion"
        return _Answer(body_json, 200, error, _since(started))


def _since(started: float) -> float:
    return time.monotonic() - started


def _support(answer: _Answer, honoured: bool) -> str:
    # 422: servers built on FastAPI refuse an unknown option as a validation error.
    if answer.status in (400, 422):
        return "rejected"
    if answer.body is None:
        return "error"
    return "supported" if honoured else "ignored"


def probe_endpoint(config: BackendConfig) -> dict[str, Any]:
    """Canaries against an OpenAI-compatible endpoint: reachability, listed models, the system
    role, and support for log-probabilities, JSON mode and each kind of constrained output."""
    prober = _Prober(config)
    metrics: dict[str, Any] = {}
    try:
        try:
            models, note = prober.models()
        except ConnectionError as exc:
            return {"reachable": False, "reach_error": str(exc)[:300]}
        metrics["reachable"] = True
        metrics["models"] = (models or [])[:20]
        metrics["model_listed"] = None if not models else config.model in models
        if note:
            metrics["models_note"] = note

        with_system = prober.chat(
            [{"role": "system", "content": CANARY_SYSTEM}, {"role": "user", "content": CANARY_USER}]
        )
        without = prober.chat([{"role": "user", "content": CANARY_USER}])
        merged = prober.chat([{"role": "user", "content": f"{CANARY_SYSTEM}\n\n{CANARY_USER}"}])
        metrics["solo_latency_ms"] = round(with_system.seconds * 1000)
        metrics["system_role"], metrics["system_evidence"] = _system_role(
            with_system, without, merged
        )

        support: dict[str, str] = {}
        probe_messages = [{"role": "user", "content": PROBE_USER}]
        lp = prober.chat(probe_messages, logprobs=True, top_logprobs=5, max_tokens=1)
        lp_content = (((lp.body or {}).get("choices") or [{}])[0].get("logprobs") or {}).get(
            "content"
        )
        support["logprobs"] = _support(lp, bool(lp_content))
        js = prober.chat(
            [{"role": "user", "content": 'Reply with a JSON object: {"answer": "<a word>"}.'}],
            response_format={"type": "json_object"},
            max_tokens=32,
        )
        support["json_mode"] = _support(js, isinstance(extract_json_object(js.content), dict))
        for kind in CONSTRAINT_KINDS:
            answer = prober.chat(
                probe_messages, max_tokens=16, **constraint_arguments(kind, reasoned=False)
            )
            support[kind] = _support(answer, _constrained_answer_ok(kind, answer.content))
        metrics["support"] = support
    finally:
        prober.close()
    return metrics


def _constrained_answer_ok(kind: str, content: str) -> bool:
    """Whether a probe's answer is exactly what the constraint allows."""
    if kind == "json_schema":
        try:
            loaded = json.loads(content)
        except ValueError:
            return False
        return isinstance(loaded, dict) and loaded.get("verdict") in ("A", "B", "C")
    return content.strip() in CHOICES


def _system_role(with_system: _Answer, without: _Answer, merged: _Answer) -> tuple[str, str]:
    """``honoured``, ``received``, ``dropped`` or ``unknown``, and the evidence in words.

    Prompt tokens decide when the server reports them: a system message that adds no prompt
    tokens never reached the model. Otherwise the canary code decides: repeated with the system
    message merged into the user turn but not with it as a system message means it was lost.
    """
    said = CANARY_CODE in with_system.content
    merged_said = CANARY_CODE in merged.content
    tokens_with, tokens_without = with_system.prompt_tokens, without.prompt_tokens
    if tokens_with is not None and tokens_without is not None:
        if tokens_with <= tokens_without:
            return (
                "dropped",
                f"a system message added no prompt tokens ({tokens_with} with it, "
                f"{tokens_without} without): the server dropped it",
            )
        if said:
            return "honoured", "the model repeated the code given only in the system message"
        return (
            "received",
            f"the system message reached the model ({tokens_with} prompt tokens with it, "
            f"{tokens_without} without), which did not repeat its code",
        )
    if said:
        return "honoured", "the model repeated the code given only in the system message"
    if merged_said:
        return (
            "dropped",
            "the model repeated the code when it was in the user turn but not when it was in "
            "the system message",
        )
    return "unknown", "the server reports no prompt tokens and the model repeated no code"


# --- the sanity set ---------------------------------------------------------------------------


def sanity_requests(
    *, mode: Mode, layout: str, one_token: bool
) -> list[tuple[JudgeRequest, int, Order]]:
    """The sanity set as requests (pair index, order); the better response is the pair's A."""
    rubric = RubricSpec(
        instructions=SANITY_RUBRIC.instructions, criteria=SANITY_RUBRIC.criteria, output_format=mode
    )
    out: list[tuple[JudgeRequest, int, Order]] = []
    for index, (prompt, better, worse) in enumerate(SANITY_PAIRS):
        pair = PairText(prompt=prompt, response_a=better, response_b=worse)
        for order in ORDERS:
            request = make_request(
                key=f"sanity-{index}:{order}",
                rubric=rubric,
                pair=pair,
                order=order,
                mode=mode,
                layout=layout,
                one_token=one_token,
            )
            out.append((request, index, order))
    return out


def sanity_metrics(
    items: Sequence[tuple[JudgeRequest, int, Order]], results: Sequence[JudgeResult]
) -> dict[str, Any]:
    """Parse rate, position consistency, agreement with the obvious answers, reasons for
    invalid answers, verdict sources, latency (server) and queue wait per call, tokens."""
    by_pair: dict[int, dict[str, str]] = {}
    invalid_reasons: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    cut_off = timeouts = logprob_refusals = 0
    samples: list[str] = []
    for (_request, index, order), result in zip(items, results, strict=True):
        verdict = to_pair_verdict(result.verdict, order)
        by_pair.setdefault(index, {})[order] = verdict
        if result.verdict == "invalid":
            invalid_reasons[result.error or "no verdict"] += 1
            if result.extra.get("finish_reason") == "length":
                cut_off += 1
            if "timed out" in result.error:
                timeouts += 1
            if len(samples) < 3 and result.raw_output:
                samples.append(result.raw_output[:300])
        else:
            sources[result.verdict_source] += 1
        if any("logprob" in str(e).lower() for e in result.extra.get("retry_errors", ())):
            logprob_refusals += 1
    n = len(results)
    valid = n - sum(invalid_reasons.values())
    pairs_both = [v for v in by_pair.values() if "invalid" not in v.values() and len(v) == 2]
    consistent = sum(v["AB"] == v["BA"] for v in pairs_both)
    correct = sum(verdict == "A" for v in by_pair.values() for verdict in v.values())
    latencies = [r.latency_ms for r in results if r.latency_ms]
    queues = [r.queue_ms for r in results]
    return {
        "n_requests": n,
        "n_valid": valid,
        "parse_rate": valid / n if n else 0.0,
        "n_pairs_both_valid": len(pairs_both),
        "n_consistent": consistent,
        "position_consistency": consistent / len(pairs_both) if pairs_both else None,
        "n_correct": correct,
        "agreement": correct / n if n else 0.0,
        "invalid_reasons": dict(invalid_reasons.most_common()),
        "cut_off": cut_off,
        "timeouts": timeouts,
        "logprob_refusals": logprob_refusals,
        "verdict_sources": dict(sources),
        "latency_ms": _spread(latencies),
        "queue_ms": _spread(queues),
        "tokens_in": sum(r.tokens_in for r in results),
        "tokens_out": sum(r.tokens_out for r in results),
        "samples": samples,
    }


def _spread(values: Sequence[int]) -> dict[str, int] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values)), "max": max(values)}


# --- assessment -------------------------------------------------------------------------------


def _finding(code: str, severity: str, message: str) -> dict[str, str]:
    return {"code": code, "severity": severity, "message": message}


def _recommendation(code: str, title: str, why: str, changes: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "title": title, "why": why, "changes": changes}


def assess(
    metrics: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[str, list[dict[str, str]], list[dict[str, Any]]]:
    """``(status, findings, recommendations)`` from a check's figures and the judge's config.

    ``config`` holds ``backend``, ``model``, ``params``, ``concurrency`` and ``uses_system``
    (whether the judge's requests carry a system message). Pure: the thresholds come in
    ``config`` (``min_parse_rate``), so tests can read every rule.
    """
    findings: list[dict[str, str]] = []
    recs: list[dict[str, Any]] = []
    params: dict[str, Any] = dict(config.get("params") or {})
    options = judge_options(params)
    mode = "reasoned" if params.get("mode") == "reasoned" else "verdict"
    min_parse = float(config.get("min_parse_rate", 0.9))
    if config.get("backend") == Backend.OPENAI and not metrics.get("reachable", False):
        findings.append(
            _finding(
                "unreachable",
                "fail",
                f"The endpoint did not answer: {metrics.get('reach_error', 'no answer')}.",
            )
        )
        return CheckStatus.FAILED, findings, recs

    listed = metrics.get("models") or []
    if metrics.get("model_listed") is False:
        findings.append(
            _finding(
                "model_not_listed",
                "warning",
                f"The server lists {', '.join(listed[:5])} but not {config.get('model')!r}.",
            )
        )
        if len(listed) == 1:
            recs.append(
                _recommendation(
                    "use_listed_model",
                    f"Use the model the server lists ({listed[0]})",
                    "The server serves one model under another name.",
                    {"model": listed[0]},
                )
            )

    support: dict[str, str] = dict(metrics.get("support") or {})
    role = metrics.get("system_role")
    system_dropped = role == "dropped" and config.get("uses_system", True)
    if system_dropped and options.layout == "system":
        findings.append(
            _finding(
                "system_dropped",
                "fail",
                "The server drops system messages ("
                + str(metrics.get("system_evidence", ""))
                + "): the rubric and the answer format never reach the model.",
            )
        )
        recs.append(
            _recommendation(
                "merge_system",
                "Merge the system message into the user turn",
                "The chat template has no system role; the rubric then travels in the first "
                "user message, which every template keeps.",
                {"params": {"prompt_layout": "merged"}},
            )
        )

    sanity: dict[str, Any] = dict(metrics.get("sanity") or {})
    parse_rate = float(sanity.get("parse_rate", 0.0))
    n = int(sanity.get("n_requests", 0))
    reasons: dict[str, int] = dict(sanity.get("invalid_reasons") or {})
    timeouts = int(sanity.get("timeouts", 0))
    concurrency = int(config.get("concurrency", 1))
    if timeouts:
        solo = metrics.get("solo_latency_ms")
        timeout_s = float(params.get("timeout_s", 60.0))
        findings.append(
            _finding(
                "timeouts",
                "fail",
                f"{timeouts} of {n} sanity calls timed out after {timeout_s:g}s at concurrency "
                f"{concurrency}"
                + (f" (a call alone took {solo} ms)" if solo else "")
                + ": the server queues calls it cannot serve at once.",
            )
        )
        if concurrency > 1:
            solo_s = max(float(solo or 0) / 1000.0, 0.001)
            # Two calls' worth of server time must fit in the timeout, whatever queues there.
            lower = max(1, min(concurrency - 1, math.floor(timeout_s / (2 * solo_s))))
            recs.append(
                _recommendation(
                    "lower_concurrency",
                    f"Lower the concurrency to {lower}",
                    "Calls waiting in the server's own queue count against the timeout.",
                    {"concurrency": lower},
                )
            )
        else:
            raised = max(timeout_s * 2, math.ceil(3 * float(solo or 0) / 1000.0))
            recs.append(
                _recommendation(
                    "raise_timeout",
                    f"Raise the timeout to {raised:g}s",
                    "Even one call at a time takes longer than the timeout.",
                    {"params": {"timeout_s": raised}},
                )
            )

    one_token_broken = options.one_token and support.get("logprobs") in ("rejected", "ignored")
    if support.get("logprobs") == "rejected" and params.get("logprobs", True) is not False:
        findings.append(
            _finding(
                "logprobs_refused",
                "warning",
                "The server refuses log-probabilities (HTTP 400): requests asking for them are "
                "sent twice, and no verdict gets a probability.",
            )
        )
        changes: dict[str, Any] = {"logprobs": False}
        if one_token_broken:
            changes["one_token"] = False
        recs.append(
            _recommendation(
                "logprobs_off",
                "Stop asking for log-probabilities",
                "Every request then succeeds on its first call.",
                {"params": changes},
            )
        )
    if one_token_broken:
        findings.append(
            _finding(
                "one_token_unsupported",
                "fail",
                "One-token verdicts read the first token's log-probabilities, which this server "
                "does not give.",
            )
        )

    supported_constraints = [k for k in CONSTRAINT_KINDS if support.get(k) == "supported"]
    if options.constrain != "off" and support.get(options.constrain) in ("rejected", "ignored"):
        findings.append(
            _finding(
                "constraint_unsupported",
                "warning",
                f"The server {support[options.constrain]} {options.constrain} constraints: "
                "answers are not constrained.",
            )
        )
        recs.append(
            _recommendation(
                "use_constrained",
                "Use "
                + (supported_constraints[0] if supported_constraints else "no")
                + " constrained verdicts",
                "Ask only for what the server enforces.",
                {"params": {"constrain": (supported_constraints or ["off"])[0]}},
            )
        )

    if n and parse_rate < min_parse:
        invalid = n - int(sanity.get("n_valid", 0))
        top = max(reasons, key=lambda k: reasons[k]) if reasons else "no verdict"
        findings.append(
            _finding(
                "low_parse_rate",
                "fail",
                f"{invalid} of {n} sanity answers had no verdict (most often: {top}).",
            )
        )
        cut = int(sanity.get("cut_off", 0))
        # With the system message dropped, the model never saw the answer format, so more room
        # would not help; a constraint the server enforces helps whatever the model saw, and a
        # small model needs it, so it is offered with the merge (one click fixes both).
        if not timeouts and not one_token_broken:
            recs.extend(
                _format_recommendations(
                    params,
                    mode,
                    options,
                    supported_constraints,
                    support,
                    cut if not system_dropped else 0,
                    invalid,
                )
            )
    consistency = sanity.get("position_consistency")
    if consistency is not None and consistency < 0.5:
        findings.append(
            _finding(
                "position_bias",
                "warning",
                f"Only {sanity.get('n_consistent')} of {sanity.get('n_pairs_both_valid')} sanity "
                "pairs got the same verdict in both orders: the judge follows positions.",
            )
        )
    if n and parse_rate >= min_parse and float(sanity.get("agreement", 0.0)) < 0.5:
        findings.append(
            _finding(
                "wrong_obvious",
                "warning",
                f"Only {sanity.get('n_correct')} of {n} sanity answers picked the obviously "
                "better response.",
            )
        )

    status = CheckStatus.PASSED
    if any(f["severity"] == "warning" for f in findings):
        status = CheckStatus.WARNING
    if any(f["severity"] == "fail" for f in findings):
        status = CheckStatus.FAILED
    return status, findings, recs


def _format_recommendations(
    params: Mapping[str, Any],
    mode: str,
    options: Any,
    supported_constraints: Sequence[str],
    support: Mapping[str, str],
    cut: int,
    invalid: int,
) -> list[dict[str, Any]]:
    """What fixes answers without a verdict: a constraint the server enforces; else one-token
    verdicts where it gives log-probabilities; else more room when answers were cut off."""
    if supported_constraints and options.constrain == "off":
        kind = supported_constraints[0]
        return [
            _recommendation(
                "use_constrained",
                f"Use constrained verdicts ({kind})",
                "The server enforces it: the model can only answer one of the allowed verdicts.",
                {"params": {"constrain": kind}},
            )
        ]
    if (
        mode == "verdict"
        and not options.one_token
        and support.get("logprobs") == "supported"
        and params.get("logprobs", True) is not False
    ):
        return [
            _recommendation(
                "use_one_token",
                "Read the verdict from the first token's log-probabilities",
                "The model is asked for one letter and the likeliest verdict letter is taken.",
                {"params": {"one_token": True}},
            )
        ]
    if cut and cut * 2 >= invalid:
        current = int(params.get("max_tokens", 16 if mode == "verdict" else 1024))
        raised = max(current * 4, RAISED_MAX_TOKENS[mode])
        return [
            _recommendation(
                "raise_max_tokens",
                f"Raise max_tokens to {raised}",
                "The answers were cut off before their verdict.",
                {"params": {"max_tokens": raised}},
            )
        ]
    return []


# The check task, by its registered name (``apps.judging.tasks``): the tasks call this module,
# so it sends the task by name and never imports them.
CHECK_TASK = "judging.judge_check"


# --- services ---------------------------------------------------------------------------------


def backend_config(judge: JudgeConfig) -> BackendConfig:
    """The backend configuration of ``judge`` (the same as a run's, key from the environment)."""
    return backend_config_for(judge)


def _config_snapshot(judge: JudgeConfig, uses_system: bool) -> dict[str, Any]:
    return {
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "params": dict(judge.params),
        "concurrency": judge.concurrency,
        "uses_system": uses_system,
        "min_parse_rate": float(settings.JUDGE_CHECK_MIN_PARSE_RATE),
    }


def judge_check_start(*, actor: Any, judge: JudgeConfig, dispatch: bool = True) -> JudgeCheck:
    """Record a check as running and send it to a worker once the transaction commits.

    ``dispatch=False`` leaves it for the caller (``judge_check_execute``, the command line).
    """
    with transaction.atomic():
        check = JudgeCheck.objects.create(
            project=judge.project,
            judge=judge,
            created_by=actor_or_none(actor),
        )
        audit_event_record(actor=actor, action="judge.check", obj=check, after={"judge": judge.pk})
        if dispatch:
            transaction.on_commit(partial(celery_app.tasks[CHECK_TASK].delay, check.pk))
    return check


def judge_check_execute(*, check: JudgeCheck) -> JudgeCheck:
    """Run the check's canaries and sanity set, then store figures, findings, recommendations.

    Never raises for a misbehaving judge: what went wrong is a finding. An unexpected error
    ends the check ``failed`` with the error.
    """
    judge = JudgeConfig.objects.get(pk=check.judge_id)
    options = judge_options(judge.params)
    mode: Mode = "reasoned" if judge.params.get("mode") == "reasoned" else "verdict"
    items = sanity_requests(mode=mode, layout=options.layout, one_token=options.one_token)
    uses_system = any(m["role"] == "system" for m in items[0][0].messages) or (
        options.layout == "merged"
    )
    snapshot = _config_snapshot(judge, uses_system)
    metrics: dict[str, Any] = {}
    error = ""
    try:
        config = backend_config(judge)
        if judge.backend == Backend.OPENAI:
            metrics.update(probe_endpoint(config))
        if judge.backend != Backend.OPENAI or metrics.get("reachable"):
            # A fresh backend: what a cached one learned about the server must not hide a fault.
            backend = backend_class(judge.backend)(config)
            try:
                results = backend.judge_batch([request for request, _, _ in items])
            finally:
                backend.close()
            metrics["sanity"] = sanity_metrics(items, results)
        status, findings, recs = assess(metrics, snapshot)
    except Exception as exc:  # a check reports; it never takes a worker down
        log.exception("check %s of judge %s failed", check.pk, judge.pk)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        status, findings, recs = (
            CheckStatus.FAILED,
            [_finding("error", "fail", f"The check could not run: {error}")],
            [],
        )
    JudgeCheck.objects.filter(pk=check.pk).update(
        status=status,
        config=snapshot,
        metrics=metrics,
        findings=findings,
        recommendations=recs,
        error=error,
        finished_at=timezone.now(),
    )
    check.refresh_from_db()
    return check


def judge_check_apply(
    *, actor: Any, check: JudgeCheck, codes: Sequence[str] | None = None
) -> JudgeConfig:
    """Apply a finished check's recommendations (all, or those named in ``codes``) to its judge.

    Parameter changes are merged into the judge's params and validated like any edit; the
    change is audited with the values before and after. Raises ``ValidationError`` naming
    ``codes`` for an unknown recommendation, ``check`` for a check with nothing to apply.
    """
    recs = {r["code"]: r for r in check.recommendations}
    if codes is None:
        codes = list(recs)
    unknown = [c for c in codes if c not in recs]
    if unknown:
        raise ValidationError({"codes": [f"Not a recommendation of this check: {unknown}."]})
    if not codes:
        raise ValidationError({"check": ["This check has no recommendations to apply."]})
    with transaction.atomic():
        judge = JudgeConfig.objects.select_for_update().get(pk=check.judge_id)
        before = {
            "model": judge.model,
            "params": dict(judge.params),
            "concurrency": judge.concurrency,
        }
        params = dict(judge.params)
        for code in codes:
            changes = recs[code]["changes"]
            params.update(changes.get("params", {}))
            if "concurrency" in changes:
                judge.concurrency = int(changes["concurrency"])
            if "model" in changes:
                judge.model = str(changes["model"])
        errors = judge_config_errors(
            backend=judge.backend, model=judge.model, api_key_env=judge.api_key_env, params=params
        )
        if errors:
            raise ValidationError(errors)
        judge.params = params
        judge.save()
        JudgeCheck.objects.filter(pk=check.pk).update(applied_at=timezone.now())
        audit_event_record(
            actor=actor,
            action="judge.check.apply",
            obj=judge,
            before=before,
            after={
                "check": check.pk,
                "codes": list(codes),
                "model": judge.model,
                "params": params,
                "concurrency": judge.concurrency,
            },
        )
    return judge


# --- selectors and the run gate ---------------------------------------------------------------


def judge_check_latest(judge: JudgeConfig) -> JudgeCheck | None:
    """The judge's most recent finished check, or ``None``."""
    return (
        JudgeCheck.objects.filter(judge=judge)
        .exclude(status=CheckStatus.RUNNING)
        .order_by("-created_at", "-pk")
        .first()
    )


def checks_for_judge(judge: JudgeConfig, limit: int = 20) -> list[JudgeCheck]:
    """The judge's checks, newest first."""
    return list(JudgeCheck.objects.filter(judge=judge).order_by("-created_at", "-pk")[:limit])


def check_summary(check: JudgeCheck) -> str:
    """One line for a check: its failing findings, else its status."""
    fails = [f["message"] for f in check.findings if f.get("severity") == "fail"]
    return " ".join(fails) if fails else check.get_status_display()


def run_check_gate(*, judge: JudgeConfig, override: str) -> JudgeCheck | None:
    """Refuse a run on a judge whose last check failed, unless ``override`` gives a reason.

    Returns the failed check that was overridden (for the audit log), ``None`` when the judge
    passed its last check or has none. Raises ``ValidationError`` on ``check_override``.
    """
    last = judge_check_latest(judge)
    if last is None or last.status != CheckStatus.FAILED:
        return None
    if not override.strip():
        raise ValidationError(
            {
                "check_override": [
                    f"The last check of judge {judge.name!r} failed: {check_summary(last)} "
                    "Apply its recommendations and check again, or give a reason to start anyway."
                ]
            }
        )
    return last
