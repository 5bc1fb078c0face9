"""From a check's figures to findings (``fail`` or ``warning``) and recommendations, each a
change of the judge config applied in one click. Pure: every rule reads only its arguments."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.judging.check.probes import CONSTRAINT_KINDS
from apps.judging.models import Backend, CheckStatus
from apps.judging.options import DEFAULT_MAX_TOKENS, JudgeOptions, judge_options

# A larger max_tokens for answers that were cut off before their verdict.
RAISED_MAX_TOKENS = {"verdict": 64, "reasoned": 2048}

Finding = dict[str, str]
Recommendation = dict[str, Any]


def finding(code: str, severity: str, message: str) -> Finding:
    """A finding as the check stores it."""
    return {"code": code, "severity": severity, "message": message}


def _recommendation(code: str, title: str, why: str, changes: dict[str, Any]) -> Recommendation:
    return {"code": code, "title": title, "why": why, "changes": changes}


@dataclass
class _Facts:
    """What the rules read, derived once from the figures and the config; and what they say."""

    metrics: Mapping[str, Any]
    config: Mapping[str, Any]
    params: dict[str, Any]
    options: JudgeOptions
    mode: str
    support: dict[str, str]
    sanity: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    recs: list[Recommendation] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.sanity.get("n_requests", 0))

    @property
    def parse_rate(self) -> float:
        return float(self.sanity.get("parse_rate", 0.0))

    @property
    def min_parse(self) -> float:
        return float(self.config.get("min_parse_rate", 0.9))

    @property
    def timeouts(self) -> int:
        return int(self.sanity.get("timeouts", 0))

    @property
    def system_dropped(self) -> bool:
        return bool(
            self.metrics.get("system_role") == "dropped" and self.config.get("uses_system", True)
        )

    @property
    def one_token_broken(self) -> bool:
        return self.options.one_token and self.support.get("logprobs") in ("rejected", "ignored")

    @property
    def supported_constraints(self) -> list[str]:
        return [k for k in CONSTRAINT_KINDS if self.support.get(k) == "supported"]


def _facts(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> _Facts:
    params: dict[str, Any] = dict(config.get("params") or {})
    return _Facts(
        metrics=metrics,
        config=config,
        params=params,
        options=judge_options(params),
        mode="reasoned" if params.get("mode") == "reasoned" else "verdict",
        support=dict(metrics.get("support") or {}),
        sanity=dict(metrics.get("sanity") or {}),
    )


def _model_listing(facts: _Facts) -> None:
    listed = facts.metrics.get("models") or []
    if facts.metrics.get("model_listed") is not False:
        return
    facts.findings.append(
        finding(
            "model_not_listed",
            "warning",
            f"The server lists {', '.join(listed[:5])} but not {facts.config.get('model')!r}.",
        )
    )
    if len(listed) == 1:
        facts.recs.append(
            _recommendation(
                "use_listed_model",
                f"Use the model the server lists ({listed[0]})",
                "The server serves one model under another name.",
                {"model": listed[0]},
            )
        )


def _system_message(facts: _Facts) -> None:
    if not (facts.system_dropped and facts.options.layout == "system"):
        return
    facts.findings.append(
        finding(
            "system_dropped",
            "fail",
            "The server drops system messages ("
            + str(facts.metrics.get("system_evidence", ""))
            + "): the rubric and the answer format never reach the model.",
        )
    )
    facts.recs.append(
        _recommendation(
            "merge_system",
            "Merge the system message into the user turn",
            "The chat template has no system role; the rubric then travels in the first "
            "user message, which every template keeps.",
            {"params": {"prompt_layout": "merged"}},
        )
    )


def _timeouts(facts: _Facts) -> None:
    timeouts = facts.timeouts
    if not timeouts:
        return
    concurrency = int(facts.config.get("concurrency", 1))
    solo = facts.metrics.get("solo_latency_ms")
    timeout_s = float(facts.params.get("timeout_s", 60.0))
    facts.findings.append(
        finding(
            "timeouts",
            "fail",
            f"{timeouts} of {facts.n} sanity calls timed out after {timeout_s:g}s at concurrency "
            f"{concurrency}"
            + (f" (a call alone took {solo} ms)" if solo else "")
            + ": the server queues calls it cannot serve at once.",
        )
    )
    if concurrency > 1:
        solo_s = max(float(solo or 0) / 1000.0, 0.001)
        # Two calls' worth of server time must fit in the timeout, whatever queues there.
        lower = max(1, min(concurrency - 1, math.floor(timeout_s / (2 * solo_s))))
        facts.recs.append(
            _recommendation(
                "lower_concurrency",
                f"Lower the concurrency to {lower}",
                "Calls waiting in the server's own queue count against the timeout.",
                {"concurrency": lower},
            )
        )
    else:
        raised = max(timeout_s * 2, math.ceil(3 * float(solo or 0) / 1000.0))
        facts.recs.append(
            _recommendation(
                "raise_timeout",
                f"Raise the timeout to {raised:g}s",
                "Even one call at a time takes longer than the timeout.",
                {"params": {"timeout_s": raised}},
            )
        )


def _logprobs(facts: _Facts) -> None:
    if (
        facts.support.get("logprobs") == "rejected"
        and facts.params.get("logprobs", True) is not False
    ):
        facts.findings.append(
            finding(
                "logprobs_refused",
                "warning",
                "The server refuses log-probabilities (HTTP 400): requests asking for them are "
                "sent twice, and no verdict gets a probability.",
            )
        )
        changes: dict[str, Any] = {"logprobs": False}
        if facts.one_token_broken:
            changes["one_token"] = False
        facts.recs.append(
            _recommendation(
                "logprobs_off",
                "Stop asking for log-probabilities",
                "Every request then succeeds on its first call.",
                {"params": changes},
            )
        )
    if facts.one_token_broken:
        facts.findings.append(
            finding(
                "one_token_unsupported",
                "fail",
                "One-token verdicts read the first token's log-probabilities, which this server "
                "does not give.",
            )
        )


def _constraint(facts: _Facts) -> None:
    constrain = facts.options.constrain
    if constrain == "off" or facts.support.get(constrain) not in ("rejected", "ignored"):
        return
    supported = facts.supported_constraints
    facts.findings.append(
        finding(
            "constraint_unsupported",
            "warning",
            f"The server {facts.support[constrain]} {constrain} constraints: "
            "answers are not constrained.",
        )
    )
    facts.recs.append(
        _recommendation(
            "use_constrained",
            "Use " + (supported[0] if supported else "no") + " constrained verdicts",
            "Ask only for what the server enforces.",
            {"params": {"constrain": (supported or ["off"])[0]}},
        )
    )


def _parse_rate(facts: _Facts) -> None:
    n = facts.n
    if not (n and facts.parse_rate < facts.min_parse):
        return
    reasons: dict[str, int] = dict(facts.sanity.get("invalid_reasons") or {})
    invalid = n - int(facts.sanity.get("n_valid", 0))
    top = max(reasons, key=lambda k: reasons[k]) if reasons else "no verdict"
    facts.findings.append(
        finding(
            "low_parse_rate",
            "fail",
            f"{invalid} of {n} sanity answers had no verdict (most often: {top}).",
        )
    )
    cut = int(facts.sanity.get("cut_off", 0))
    # With the system message dropped, the model never saw the answer format, so more room
    # would not help; a constraint the server enforces helps whatever the model saw, and a
    # small model needs it, so it is offered with the merge (one click fixes both).
    if not facts.timeouts and not facts.one_token_broken:
        facts.recs.extend(
            _format_recommendations(
                facts.params,
                facts.mode,
                facts.options,
                facts.supported_constraints,
                facts.support,
                cut if not facts.system_dropped else 0,
                invalid,
            )
        )


def _answers(facts: _Facts) -> None:
    sanity, n = facts.sanity, facts.n
    consistency = sanity.get("position_consistency")
    if consistency is not None and consistency < 0.5:
        facts.findings.append(
            finding(
                "position_bias",
                "warning",
                f"Only {sanity.get('n_consistent')} of {sanity.get('n_pairs_both_valid')} sanity "
                "pairs got the same verdict in both orders: the judge follows positions.",
            )
        )
    if n and facts.parse_rate >= facts.min_parse and float(sanity.get("agreement", 0.0)) < 0.5:
        facts.findings.append(
            finding(
                "wrong_obvious",
                "warning",
                f"Only {sanity.get('n_correct')} of {n} sanity answers picked the obviously "
                "better response.",
            )
        )


# The rules in the order their findings and recommendations are listed.
RULES: tuple[Callable[[_Facts], None], ...] = (
    _model_listing,
    _system_message,
    _timeouts,
    _logprobs,
    _constraint,
    _parse_rate,
    _answers,
)


def _status(findings: Sequence[Finding]) -> str:
    if any(f["severity"] == "fail" for f in findings):
        return CheckStatus.FAILED
    if any(f["severity"] == "warning" for f in findings):
        return CheckStatus.WARNING
    return CheckStatus.PASSED


def assess(
    metrics: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[str, list[Finding], list[Recommendation]]:
    """``(status, findings, recommendations)`` from a check's figures and the judge's config.

    ``config`` holds ``backend``, ``model``, ``params``, ``concurrency`` and ``uses_system``
    (whether the judge's requests carry a system message). Pure: the thresholds come in
    ``config`` (``min_parse_rate``), so tests can read every rule.
    """
    if config.get("backend") == Backend.OPENAI and not metrics.get("reachable", False):
        reach = f"The endpoint did not answer: {metrics.get('reach_error', 'no answer')}."
        return CheckStatus.FAILED, [finding("unreachable", "fail", reach)], []
    facts = _facts(metrics, config)
    for rule in RULES:
        rule(facts)
    return _status(facts.findings), facts.findings, facts.recs


def _format_recommendations(
    params: Mapping[str, Any],
    mode: str,
    options: JudgeOptions,
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
        current = int(params.get("max_tokens", DEFAULT_MAX_TOKENS[mode]))
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
