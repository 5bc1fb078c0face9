"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint.

OpenAI itself, vLLM, SGLang, the llama.cpp server and Ollama all speak this protocol. Requests go
through the official SDK's async client, many at once under a semaphore (the judge config's
concurrency), optionally spaced by a requests-per-minute and a tokens-per-minute limit.

Retries are done here, with the SDK's own retries switched off (``max_retries=0``). The SDK does
honour ``Retry-After``, but it cannot do what a judging run needs: it reports no attempt count
per call (each judgment records its attempts), its jitter is a 0-25% trim rather than full
jitter (64 requests rate-limited together would come back nearly together), it never retries a
200 answer whose body is cut short or is not JSON, and the logprobs/JSON-mode fallbacks below are
part of the same loop. A ``Retry-After`` (seconds or an HTTP date) pauses every request of the
batch, not only the one that got it, since the server's limit is shared.

Every failure of a single request ends as verdict ``invalid`` with the error and whatever raw
text came back; only an endpoint that never answered any request of a batch raises
``EndpointUnreachable``, so the chunk task retries the batch later instead of storing a batch of
invalid judgments.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from apps.core import egress
from apps.judging.backends.base import BackendConfig, JudgeBackend, register
from apps.judging.options import constraint_arguments, judge_options
from apps.judging.parsing import (
    extract_json_object,
    p_first_from_logprobs,
    parse_reasoned,
    parse_verdict,
    verdict_token_class,
    verdict_value,
)
from apps.judging.prompting import estimate_messages_tokens
from apps.judging.types import JudgeRequest, JudgeResult, Mode, ShownVerdict

log = logging.getLogger(__name__)

# Status codes worth another try: request timeout, conflict/lock, too early, rate limit, 5xx.
RETRY_STATUSES = frozenset({408, 409, 425, 429})
DEFAULT_MAX_TOKENS: dict[str, int] = {"verdict": 16, "reasoned": 1024}
# One-token mode asks for this many alternatives at the first token, so the three letters are
# among them even when the model's favourite first token is something else.
ONE_TOKEN_TOP_LOGPROBS = 10
# Words in a 400's message that say the server refused the constrained-output option.
_CONSTRAINT_WORDS = ("grammar", "guided", "json_schema", "schema", "response_format")
# Where the verdict letter sits in the generated text: the last [[X]] marker (what
# parsing.parse_verdict reads) or the value of a JSON "verdict" key.
_MARKER_RE = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_JSON_VERDICT_RE = re.compile(r"\"verdict\"\s*:\s*\"\s*(?:\[\[)?\s*(A|B|C|tie)\b", re.IGNORECASE)


# Transport errors that mean the endpoint was never reached (nothing listening, no route).
_UNREACHED = frozenset({"ConnectError", "ConnectTimeout"})


class EndpointUnreachable(RuntimeError):
    """No request of a batch got any answer from the endpoint (connection refused, DNS...)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, a cap, and the server's ``Retry-After`` honoured.

    The n-th retry sleeps a uniform random time in ``[0, min(cap, base * 2**(n-1))]`` (full
    jitter spreads a burst of failed requests over the whole window), and never less than the
    server's ``Retry-After``. A ``Retry-After`` longer than ``retry_after_cap_s`` ends the
    request instead of parking the batch for that long.
    """

    max_attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 30.0
    retry_after_cap_s: float = 120.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(retry - 1, 0))
        wait = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds a server asks the client to wait: ``retry-after-ms``, then ``Retry-After``.

    ``Retry-After`` is either a number of seconds or an HTTP date (RFC 9110). The SDK has the
    same reading, but only as a private method, so it is not relied on here.
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _Pacer:
    """Spaces request starts evenly so no minute sees more than ``per_minute`` units.

    Even spacing rather than a bucket with bursts: the SDK gives no view of the server's
    remaining quota, and a steady rate never trips a per-minute limit.
    """

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, units: float = 1.0) -> None:
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + units * self.interval
        if start > now:
            await asyncio.sleep(start - now)


@dataclass
class _BatchState:
    """What the requests of one batch share: the concurrency limit, pacers, the pause gate."""

    semaphore: asyncio.Semaphore
    request_pacer: _Pacer | None
    token_pacer: _Pacer | None
    rng: random.Random
    pause_until: float = 0.0

    async def wait_for_gate(self) -> None:
        while True:
            remaining = self.pause_until - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    def pause(self, seconds: float) -> None:
        self.pause_until = max(self.pause_until, time.monotonic() + seconds)


@dataclass
class _Failure:
    """A failed call: whether it may be retried, and why."""

    message: str
    retryable: bool
    retry_after: float | None = None
    answered: bool = True
    status: int | None = None
    raw: str = ""


@dataclass
class _Outcome:
    """Everything learned while judging one request."""

    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    answered: bool = False
    # Gave up without ever reaching the endpoint (every attempt failed to connect).
    unreached: bool = False
    # Duration of each HTTP call, in seconds; the last one is the answer's latency.
    calls_s: list[float] = field(default_factory=list)


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
        state = _BatchState(
            semaphore=asyncio.Semaphore(max(1, cfg.concurrency)),
            request_pacer=_Pacer(cfg.requests_per_minute) if cfg.requests_per_minute else None,
            token_pacer=_Pacer(cfg.tokens_per_minute) if cfg.tokens_per_minute else None,
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
        # policy on the address actually connected to (apps/core/egress.py).
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
        self, client: AsyncOpenAI, state: _BatchState, request: JudgeRequest
    ) -> tuple[JudgeResult, _Outcome]:
        started = time.monotonic()
        outcome = _Outcome()
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
        self, client: AsyncOpenAI, state: _BatchState, request: JudgeRequest, outcome: _Outcome
    ) -> JudgeResult:
        mode = self._mode(request)
        use_logprobs = self.logprobs_supported
        use_json = mode == "reasoned" and self.json_mode_supported
        use_constraint = self.constraint_supported
        failures = 0
        while True:
            await self._pace(state, request, mode)
            async with state.semaphore:
                # Checked after taking a slot: a request queued for the slot while another got
                # a 429 must wait out that Retry-After too, and must not ask for an option that
                # another request has meanwhile found unsupported.
                await state.wait_for_gate()
                use_logprobs = use_logprobs and self.logprobs_supported
                use_json = use_json and self.json_mode_supported
                use_constraint = use_constraint and self.constraint_supported
                args = self._arguments(
                    request,
                    mode,
                    logprobs=use_logprobs,
                    json_mode=use_json,
                    constrain=use_constraint,
                )
                outcome.attempts += 1
                call_started = time.monotonic()
                answer = await self._call(client, args)
                outcome.calls_s.append(time.monotonic() - call_started)
            if isinstance(answer, ChatCompletion):
                outcome.answered = True
                # A request that only worked with an option off teaches the whole backend.
                if self.logprobs_supported and not use_logprobs:
                    self.logprobs_supported = False
                if mode == "reasoned" and self.json_mode_supported and not use_json:
                    self.json_mode_supported = False
                if self.constraint_supported and not use_constraint:
                    self.constraint_supported = False
                return self._result(
                    request,
                    mode,
                    answer,
                    used_logprobs=use_logprobs,
                    constrained=use_constraint
                    and bool(
                        constraint_arguments(self.options.constrain, reasoned=mode == "reasoned")
                    ),
                )

            failure = answer
            outcome.answered = outcome.answered or failure.answered
            # 422: servers built on FastAPI answer an option they do not know with a
            # validation error rather than a 400.
            refused = failure.status == 400 or (failure.status == 422 and use_constraint)
            if refused and (use_logprobs or use_json or use_constraint):
                # Servers that lack logprobs, JSON mode or constrained output answer 400: ask
                # again without, once for each option, and without counting it as a failed
                # attempt. An error that names the option is remembered at once; otherwise only
                # once the request succeeds without it (the 400 may have had another cause).
                # The constraint goes first: it is the newest and least widely supported option.
                text = failure.message.lower()
                names_constraint = any(word in text for word in _CONSTRAINT_WORDS)
                if use_constraint and (names_constraint or not (use_logprobs or use_json)):
                    dropped = "constrained output"
                    use_constraint = False
                    if names_constraint:
                        self.constraint_supported = False
                elif use_logprobs and (not use_json or "logprob" in text):
                    dropped = "logprobs"
                    use_logprobs = False
                    if "logprob" in text:
                        self.logprobs_supported = False
                else:
                    dropped = "response_format"
                    use_json = False
                    if "response_format" in text or "json" in text:
                        self.json_mode_supported = False
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
                error = failure.message
                if too_long:
                    error += f" (Retry-After {failure.retry_after:.0f}s is beyond the cap)"
                elif failure.retryable:
                    error = f"{error} (gave up after {failures} attempts)"
                return JudgeResult(
                    key=request.key, verdict="invalid", raw_output=failure.raw, error=error
                )
            if failure.retry_after is not None:
                state.pause(failure.retry_after)
            wait = self.policy.delay(failures, failure.retry_after, state.rng)
            log.info(
                "judging %s: %s; retry %d in %.2fs", request.key, failure.message, failures, wait
            )
            await asyncio.sleep(wait)

    async def _pace(self, state: _BatchState, request: JudgeRequest, mode: Mode) -> None:
        if state.request_pacer is not None:
            await state.request_pacer.acquire()
        if state.token_pacer is not None:
            budget = estimate_messages_tokens(request.messages)
            budget += int(self.config.params.get("max_tokens", DEFAULT_MAX_TOKENS[mode]))
            await state.token_pacer.acquire(budget)

    async def _call(self, client: AsyncOpenAI, args: dict[str, Any]) -> ChatCompletion | _Failure:
        """One HTTP call: the completion, or a classified failure. Never raises for HTTP trouble."""
        try:
            # The SDK's timeout is per network operation; this bounds the whole call.
            async with asyncio.timeout(self.timeout_s):
                # ``post`` is the SDK's public call with a ready body, the same request that
                # ``chat.completions.create`` sends; ``create`` first walks the type annotations
                # of every message to transform them, which for plain text messages changes
                # nothing and cost more CPU than the rest of the request (about 40% of the
                # client's time per request at concurrency 64, measured with
                # bench/bench_openai_backend.py).
                answer: object = await client.post(
                    "/chat/completions", body=args, cast_to=ChatCompletion
                )
        except TimeoutError:
            return _Failure(f"timed out after {self.timeout_s:g}s", retryable=True)
        except (egress.EgressRefused, openai.APIConnectionError) as exc:
            refused = egress.refusal_in(exc)
            if refused is not None:
                # Nothing was sent. Not retried, and not "unreached" (which would retry the
                # chunk): the policy would refuse the same connection again.
                return _Failure(f"refused by the egress policy: {refused}", retryable=False)
            if not isinstance(exc, openai.APIConnectionError):
                raise
            # APITimeoutError is a subclass. The transport's own exception is the cause; it is
            # read by name because the SDK's transport package has changed between releases.
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else ""
            reached = cause not in _UNREACHED
            if isinstance(exc, openai.APITimeoutError):
                message = f"timed out after {self.timeout_s:g}s"
            else:
                message = f"connection error: {cause or type(exc).__name__}"
            return _Failure(message, retryable=True, answered=reached)
        except openai.APIStatusError as exc:
            status = exc.status_code
            retryable = status in RETRY_STATUSES or status >= 500
            retry_after = parse_retry_after(exc.response.headers) if retryable else None
            return _Failure(
                f"HTTP {status}: {_short(exc.message)}",
                retryable=retryable,
                retry_after=retry_after,
                status=status,
                raw=_short(exc.response.text, 2000),
            )
        except ValueError as exc:
            # A 200 whose JSON body does not decode (cut short by a proxy, say).
            return _Failure(f"malformed response: {_short(str(exc))}", retryable=True)
        if not isinstance(answer, ChatCompletion):
            # The SDK hands back the text of a non-JSON 200 (an HTML error page from a proxy).
            return _Failure(
                "malformed response: not a chat completion",
                retryable=True,
                raw=_short(str(answer), 2000),
            )
        if not answer.choices or answer.choices[0].message is None:
            return _Failure("malformed response: no choices", retryable=True)
        return answer

    def _result(
        self,
        request: JudgeRequest,
        mode: Mode,
        completion: ChatCompletion,
        *,
        used_logprobs: bool,
        constrained: bool = False,
    ) -> JudgeResult:
        choice = completion.choices[0]
        message = choice.message
        content = message.content or ""
        result = JudgeResult(key=request.key, verdict="invalid", raw_output=content)
        usage = completion.usage
        if usage is not None:
            result.tokens_in = usage.prompt_tokens or 0
            result.tokens_out = usage.completion_tokens or 0
            details = usage.prompt_tokens_details
            if details is not None and details.cached_tokens:
                result.extra["cached_tokens"] = details.cached_tokens
        result.extra["finish_reason"] = choice.finish_reason
        result.extra["model"] = completion.model
        result.extra["logprobs"] = used_logprobs

        refusal = getattr(message, "refusal", None)
        if refusal:
            result.raw_output = refusal if not content else f"{content}\n{refusal}"
            result.error = "the judge refused"
            return result
        if self._one_token(mode):
            return self._one_token_result(result, choice, content, used_logprobs=used_logprobs)
        if not content.strip():
            result.error = "empty answer"
            return result

        verdict: ShownVerdict
        if constrained:
            result.verdict_source = self.options.constrain
        if constrained and self.options.constrain == "json_schema" and mode == "verdict":
            found = extract_json_object(content)
            verdict = verdict_value(found.get("verdict")) if found else "invalid"
            if verdict == "invalid":
                verdict = parse_verdict(content)
        elif mode == "reasoned":
            verdict, rationale, criteria = parse_reasoned(content)
            result.rationale = rationale
            result.criteria = dict(criteria)
        else:
            verdict = parse_verdict(content)
        result.verdict = verdict
        if verdict == "invalid":
            result.error = (
                "answer cut off at max_tokens without a verdict"
                if choice.finish_reason == "length"
                else "no verdict in the answer"
            )
            return result
        if used_logprobs and choice.logprobs is not None and choice.logprobs.content:
            top = verdict_position_logprobs(
                [
                    (t.token, t.logprob, [(a.token, a.logprob) for a in t.top_logprobs])
                    for t in choice.logprobs.content
                ]
            )
            if top is not None:
                result.p_first = p_first_from_logprobs(top)
        return result

    @staticmethod
    def _one_token_result(
        result: JudgeResult, choice: Any, content: str, *, used_logprobs: bool
    ) -> JudgeResult:
        """One-token mode: the verdict is the likeliest letter among the first token's
        alternatives (``p_first`` from all of them); the text is read only when the server sent
        no log-probabilities."""
        first = None
        if used_logprobs and choice.logprobs is not None and choice.logprobs.content:
            first = choice.logprobs.content[0]
        if first is not None:
            alternatives = [(a.token, a.logprob) for a in first.top_logprobs] or [
                (first.token, first.logprob)
            ]
            letters = [
                (shown, logprob)
                for token, logprob in alternatives
                if (shown := verdict_token_class(token)) is not None
            ]
            if letters:
                best = max(letters, key=lambda item: item[1])[0]
                result.verdict = best
                result.verdict_source = "logprobs"
                result.p_first = p_first_from_logprobs(alternatives)
                return result
        verdict = parse_verdict(content) if content.strip() else "invalid"
        result.verdict = verdict
        if verdict == "invalid":
            result.error = (
                "no verdict letter in the first token or its log-probabilities"
                if first is not None
                else "no verdict in the one-token answer (the server sent no log-probabilities)"
            )
        return result


def verdict_position_logprobs(
    tokens: Sequence[tuple[str, float, Sequence[tuple[str, float]]]],
) -> list[tuple[str, float]] | None:
    """The alternatives at the token that carries the verdict letter, or ``None``.

    ``tokens`` are the generated tokens as ``(token, logprob, top_logprobs)``. The verdict's
    character position is found in the joined text (the last ``[[X]]`` marker, else a JSON
    ``"verdict": "X"`` value) and mapped back to the token that covers it, so a token such as
    ``"A"``, ``" A"`` or ``"[[A"`` is found whatever the tokenizer. Fewer than two alternatives
    say nothing about the other letters, so they give ``None``.
    """
    text = "".join(token for token, _, _ in tokens)
    position: int | None = None
    markers = list(_MARKER_RE.finditer(text))
    if markers:
        position = markers[-1].start(1)
    else:
        found = _JSON_VERDICT_RE.search(text)
        if found is not None:
            position = found.start(1)
    if position is None:
        return None
    offset = 0
    for _token, _logprob, top in tokens:
        end = offset + len(_token)
        if offset <= position < end:
            return list(top) if len(top) >= 2 else None
        offset = end
    return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
