"""The ``openai`` backend class: a batch judged concurrently on its own event loop, each
request asked, retried and read (``retry``, ``calls``, ``answers``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from apps.core import egress
from apps.judging.backends.base import BackendConfig, JudgeBackend, register
from apps.judging.backends.openai_backend.answers import completion_result
from apps.judging.backends.openai_backend.calls import call_endpoint
from apps.judging.backends.openai_backend.retry import (
    BatchState,
    Failure,
    Outcome,
    Pacer,
    RetryPolicy,
)
from apps.judging.options import DEFAULT_MAX_TOKENS, constraint_arguments, judge_options
from apps.judging.prompting import estimate_messages_tokens
from apps.judging.types import JudgeRequest, JudgeResult, Mode

log = logging.getLogger(__name__)

# One-token mode asks for this many alternatives at the first token, so the three letters are
# among them even when the model's favourite first token is something else.
ONE_TOKEN_TOP_LOGPROBS = 10
# Words in a 400's message that say the server refused the constrained-output option.
_CONSTRAINT_WORDS = ("grammar", "guided", "json_schema", "schema", "response_format")


class EndpointUnreachable(RuntimeError):
    """No request of a batch got any answer from the endpoint (connection refused, DNS...)."""


@dataclass
class _Options:
    """The options one request still asks for (each dropped when the server refuses it)."""

    logprobs: bool
    json: bool
    constraint: bool


def _given_up(
    request: JudgeRequest, failure: Failure, failures: int, *, too_long: bool
) -> JudgeResult:
    """The ``invalid`` result of a request the loop gave up on, saying why."""
    error = failure.message
    if too_long:
        error += f" (Retry-After {failure.retry_after:.0f}s is beyond the cap)"
    elif failure.retryable:
        error = f"{error} (gave up after {failures} attempts)"
    return JudgeResult(key=request.key, verdict="invalid", raw_output=failure.raw, error=error)


@register("openai")
class OpenAIBackend(JudgeBackend):
    """Judge over any OpenAI-compatible chat-completions endpoint.

    ``config.params`` (all optional): ``mode`` (``verdict``/``reasoned``; default the rubric's
    output format), ``temperature`` (0), ``top_p``, ``seed``, ``max_tokens`` (16 for verdicts,
    1024 for reasoned answers), ``max_tokens_field`` (``max_tokens`` or
    ``max_completion_tokens``), ``logprobs`` (true), ``top_logprobs`` (5), ``json_mode`` (true:
    ``response_format=json_object`` in reasoned mode), ``timeout_s`` (60, per attempt),
    ``max_attempts`` (4), ``backoff_base_s`` (0.5), ``backoff_cap_s`` (30),
    ``retry_after_cap_s`` (120), ``extra_body`` (merged into the request body, for
    server-specific options), ``http_client`` (``auto``: the SDK's aiohttp transport when
    installed; ``httpx``: the SDK's httpx transport; both check every connection against the
    operator's egress policy), and the answer options of ``options``:
    ``prompt_layout`` (applied when the request is rendered), ``constrain`` (``json_schema``,
    ``guided_choice``, ``grammar``; dropped for good when the server answers 400 naming it) and
    ``one_token`` (``max_tokens`` 1, the verdict read from the first token's log-probabilities).

    Timing: ``latency_ms`` is the duration of the HTTP call that gave the answer (the server's
    time, network included); ``queue_ms`` is everything before it (waiting for a concurrency
    slot, pacing, failed attempts and backoff).
    """

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        params = config.params
        self.timeout_s = float(params.get("timeout_s", 60.0))
        self.policy = RetryPolicy(
            max_attempts=max(1, int(params.get("max_attempts", 4))),
            base_s=float(params.get("backoff_base_s", 0.5)),
            cap_s=float(params.get("backoff_cap_s", 30.0)),
            retry_after_cap_s=float(params.get("retry_after_cap_s", 120.0)),
        )
        # Learned from the server: switched off for good once a 400 names the option, or once
        # a request that got a 400 with it succeeds without it.
        self.logprobs_supported = bool(params.get("logprobs", True))
        self.json_mode_supported = bool(params.get("json_mode", True))
        self.options = judge_options(params)
        self.constraint_supported = self.options.constrain != "off"

    # -- public entry points ----------------------------------------------------------------

    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
        """Judge ``requests`` concurrently; runs its own event loop (safe in a Celery worker)."""
        if not requests:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.judge_batch_async(requests))
        # Called from code that already runs a loop: asyncio.run needs a thread of its own.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.judge_batch_async(requests)).result()

    async def judge_batch_async(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
        """The async form of :meth:`judge_batch`, for callers that already run a loop."""
        if not requests:
            return []
        cfg = self.config
        client = AsyncOpenAI(
            base_url=cfg.base_url or None,
            # The judge config resolves the key. No fallback to OPENAI_API_KEY: that key must
            # not be sent to whatever base_url a config names. Local servers (vLLM, llama.cpp,
            # Ollama) accept any key, but the SDK insists on one.
            api_key=cfg.api_key or "unused",
            max_retries=0,
            timeout=self.timeout_s,
            http_client=self._http_client(),
        )
        state = BatchState(
            semaphore=asyncio.Semaphore(max(1, cfg.concurrency)),
            request_pacer=Pacer(cfg.requests_per_minute) if cfg.requests_per_minute else None,
            token_pacer=Pacer(cfg.tokens_per_minute) if cfg.tokens_per_minute else None,
            rng=random.Random(),  # noqa: S311 - backoff jitter, not a secret
        )
        try:
            outcomes = await asyncio.gather(
                *(self._judge_one(client, state, request) for request in requests)
            )
        finally:
            await client.close()
        results = [result for result, _ in outcomes]
        if all(o.unreached for _, o in outcomes):
            raise EndpointUnreachable(
                f"no answer from {cfg.base_url or 'the OpenAI API'} for any of {len(requests)} "
                f"requests; last error: {results[-1].error}"
            )
        return results

    def _http_client(self) -> Any:
        """The SDK's aiohttp transport when aiohttp is installed (``openai[aiohttp]``).

        The SDK recommends it for many concurrent requests: its default pool re-checks every
        pooled connection each time a request starts or ends, which at concurrency 64 cost
        more CPU than the rest of the request. ``params["http_client"]`` = ``httpx`` keeps the
        SDK's default; ``None`` means the SDK's default.
        """
        choice = str(self.config.params.get("http_client", "auto"))
        # Either transport, with every connection checked against the operator's egress
        # policy on the address actually connected to (apps/core/egress/).
        return egress.openai_http_client(choice, timeout=self.timeout_s)

    # -- one request --------------------------------------------------------------------------

    def _mode(self, request: JudgeRequest) -> Mode:
        mode = self.config.params.get("mode") or request.rubric.output_format
        return "reasoned" if mode == "reasoned" else "verdict"

    def _one_token(self, mode: Mode) -> bool:
        return self.options.one_token and mode == "verdict"

    def _arguments(
        self,
        request: JudgeRequest,
        mode: Mode,
        *,
        logprobs: bool,
        json_mode: bool,
        constrain: bool = False,
    ) -> dict[str, Any]:
        params = self.config.params
        args: dict[str, Any] = {
            "model": self.config.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": float(params.get("temperature", 0.0)),
        }
        max_tokens = int(params.get("max_tokens", DEFAULT_MAX_TOKENS[mode]))
        if self._one_token(mode):
            max_tokens = 1
        args[str(params.get("max_tokens_field", "max_tokens"))] = max_tokens
        for name in ("top_p", "seed"):
            if params.get(name) is not None:
                args[name] = params[name]
        if logprobs:
            args["logprobs"] = True
            top = int(params.get("top_logprobs", 5))
            if self._one_token(mode):
                top = max(top, ONE_TOKEN_TOP_LOGPROBS)
            args["top_logprobs"] = top
        if json_mode:
            args["response_format"] = {"type": "json_object"}
        if constrain:
            args.update(constraint_arguments(self.options.constrain, reasoned=mode == "reasoned"))
        if params.get("extra_body"):
            # Server-specific options (vLLM's guided decoding, say) go in the body as they are.
            args.update(dict(params["extra_body"]))
        return args

    async def _judge_one(
        self, client: AsyncOpenAI, state: BatchState, request: JudgeRequest
    ) -> tuple[JudgeResult, Outcome]:
        started = time.monotonic()
        outcome = Outcome()
        try:
            result = await self._attempts(client, state, request, outcome)
        except Exception as exc:  # one request's failure never sinks the batch
            log.exception("judging %s failed unexpectedly", request.key)
            result = JudgeResult(
                key=request.key, verdict="invalid", error=f"{type(exc).__name__}: {exc}"
            )
        result.attempts = max(outcome.attempts, 1)
        # The server's time is the call that answered; everything else was spent waiting here.
        total_s = time.monotonic() - started
        call_s = outcome.calls_s[-1] if outcome.calls_s else 0.0
        result.latency_ms = round(call_s * 1000)
        result.queue_ms = max(0, round((total_s - call_s) * 1000))
        if outcome.errors:
            result.extra["retry_errors"] = outcome.errors
        return result, outcome

    async def _attempts(
        self, client: AsyncOpenAI, state: BatchState, request: JudgeRequest, outcome: Outcome
    ) -> JudgeResult:
        mode = self._mode(request)
        use = _Options(
            logprobs=self.logprobs_supported,
            json=mode == "reasoned" and self.json_mode_supported,
            constraint=self.constraint_supported,
        )
        failures = 0
        while True:
            answer = await self._attempt(client, state, request, mode, use, outcome)
            if isinstance(answer, ChatCompletion):
                outcome.answered = True
                self._learn(mode, use)
                return self._result(request, mode, answer, use)

            failure = answer
            outcome.answered = outcome.answered or failure.answered
            # 422: servers built on FastAPI answer an option they do not know with a
            # validation error rather than a 400.
            refused = failure.status == 400 or (failure.status == 422 and use.constraint)
            if refused and (use.logprobs or use.json or use.constraint):
                dropped = self._drop_option(failure, use)
                outcome.errors.append(f"{failure.message} (retrying without {dropped})")
                continue

            failures += 1
            outcome.errors.append(failure.message)
            give_up = not failure.retryable or failures >= self.policy.max_attempts
            too_long = (
                failure.retry_after is not None
                and failure.retry_after > self.policy.retry_after_cap_s
            )
            if give_up or too_long:
                outcome.unreached = not outcome.answered
                return _given_up(request, failure, failures, too_long=too_long)
            if failure.retry_after is not None:
                state.pause(failure.retry_after)
            wait = self.policy.delay(failures, failure.retry_after, state.rng)
            log.info(
                "judging %s: %s; retry %d in %.2fs", request.key, failure.message, failures, wait
            )
            await asyncio.sleep(wait)

    async def _attempt(
        self,
        client: AsyncOpenAI,
        state: BatchState,
        request: JudgeRequest,
        mode: Mode,
        use: _Options,
        outcome: Outcome,
    ) -> ChatCompletion | Failure:
        """One call of the request, paced, in a concurrency slot, after any pause."""
        await self._pace(state, request, mode)
        async with state.semaphore:
            # Checked after taking a slot: a request queued for the slot while another got
            # a 429 must wait out that Retry-After too, and must not ask for an option that
            # another request has meanwhile found unsupported.
            await state.wait_for_gate()
            use.logprobs = use.logprobs and self.logprobs_supported
            use.json = use.json and self.json_mode_supported
            use.constraint = use.constraint and self.constraint_supported
            args = self._arguments(
                request,
                mode,
                logprobs=use.logprobs,
                json_mode=use.json,
                constrain=use.constraint,
            )
            outcome.attempts += 1
            call_started = time.monotonic()
            answer = await call_endpoint(client, args, timeout_s=self.timeout_s)
            outcome.calls_s.append(time.monotonic() - call_started)
        return answer

    def _learn(self, mode: Mode, use: _Options) -> None:
        """A request that only worked with an option off teaches the whole backend."""
        if self.logprobs_supported and not use.logprobs:
            self.logprobs_supported = False
        if mode == "reasoned" and self.json_mode_supported and not use.json:
            self.json_mode_supported = False
        if self.constraint_supported and not use.constraint:
            self.constraint_supported = False

    def _drop_option(self, failure: Failure, use: _Options) -> str:
        """The option to ask again without after a 400, switched off in ``use``; its name.

        Servers that lack logprobs, JSON mode or constrained output answer 400: the request is
        asked again without, once for each option, and without counting it as a failed
        attempt. An error that names the option is remembered at once; otherwise only once the
        request succeeds without it (the 400 may have had another cause). The constraint goes
        first: it is the newest and least widely supported option.
        """
        text = failure.message.lower()
        names_constraint = any(word in text for word in _CONSTRAINT_WORDS)
        if use.constraint and (names_constraint or not (use.logprobs or use.json)):
            use.constraint = False
            if names_constraint:
                self.constraint_supported = False
            return "constrained output"
        if use.logprobs and (not use.json or "logprob" in text):
            use.logprobs = False
            if "logprob" in text:
                self.logprobs_supported = False
            return "logprobs"
        use.json = False
        if "response_format" in text or "json" in text:
            self.json_mode_supported = False
        return "response_format"

    def _result(
        self, request: JudgeRequest, mode: Mode, completion: ChatCompletion, use: _Options
    ) -> JudgeResult:
        return completion_result(
            request,
            mode,
            completion,
            used_logprobs=use.logprobs,
            constrained=use.constraint
            and bool(constraint_arguments(self.options.constrain, reasoned=mode == "reasoned")),
            one_token=self._one_token(mode),
            constrain=self.options.constrain,
        )

    async def _pace(self, state: BatchState, request: JudgeRequest, mode: Mode) -> None:
        if state.request_pacer is not None:
            await state.request_pacer.acquire()
        if state.token_pacer is not None:
            budget = estimate_messages_tokens(request.messages)
            budget += int(self.config.params.get("max_tokens", DEFAULT_MAX_TOKENS[mode]))
            await state.token_pacer.acquire(budget)
