"""The offline backend: a batch judged in-process, each text measured once, each decision as a
``JudgeResult`` (verdict marker or reasoned JSON, token estimates, the demo label)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from apps.judging.backends.base import BackendConfig, JudgeBackend, register
from apps.judging.backends.offline.decide import Measured, OfflineDecision, decide, measure
from apps.judging.backends.offline.rubric import CompiledRubric, compile_rubric
from apps.judging.backends.offline.texts import PromptStats, prompt_stats, text_stats
from apps.judging.prompting import estimate_messages_tokens, estimate_tokens
from apps.judging.types import JudgeRequest, JudgeResult

_LETTER = {"first": "A", "second": "B", "tie": "tie"}


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
        verdict_source="rules",
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
        # A run shares one rubric and both orders of a pair share its prompt and texts: each
        # is compiled or measured once per batch.
        rubrics: dict[int, CompiledRubric] = {}
        prompts: dict[str, PromptStats] = {}
        measured: dict[tuple[int, str, str], Measured] = {}
        results: list[JudgeResult] = []
        for request in requests:
            try:
                compiled = rubrics.get(id(request.rubric))
                if compiled is None:
                    compiled = rubrics[id(request.rubric)] = compile_rubric(request.rubric)
                sides = []
                for text in (request.first, request.second):
                    key = (id(compiled), request.prompt, text)
                    found = measured.get(key)
                    if found is None:
                        prompt = prompts.get(request.prompt)
                        if prompt is None:
                            prompt = prompts[request.prompt] = prompt_stats(request.prompt)
                        found = measure(compiled, prompt, text_stats(text, compiled.needs))
                        measured[key] = found
                    sides.append(found)
                decision = decide(compiled, sides[0], sides[1], position_bias=self.position_bias)
                results.append(to_result(request, compiled, decision))
            except Exception as exc:  # one bad request must not sink the batch
                results.append(JudgeResult.failure(request.key, f"{type(exc).__name__}: {exc}"))
        return results
