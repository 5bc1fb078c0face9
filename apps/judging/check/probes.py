"""Canaries against an OpenAI-compatible endpoint: reachability, listed models, whether the
system message reaches the model, and which output options the server enforces."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.core import egress
from apps.judging.backends.base import BackendConfig
from apps.judging.options import CHOICES, constraint_arguments
from apps.judging.parsing import extract_json_object

CANARY_CODE = "7319"
CANARY_SYSTEM = f"Reply with exactly this code and nothing else: {CANARY_CODE}"
CANARY_USER = "What is the code? Reply with the code only."
# The option probes ask for something that is never a verdict: only an enforced constraint
# makes the answer one of the allowed verdicts.
PROBE_USER = "Write a short poem about the sea."
CONSTRAINT_KINDS = ("json_schema", "guided_choice", "grammar")


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
