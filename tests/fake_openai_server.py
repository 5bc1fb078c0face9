"""A loopback OpenAI-compatible chat-completions server for tests, benchmarks and the demo.

It speaks real HTTP/1.1 (keep-alive, Content-Length and chunked request bodies) on asyncio
streams, so one process serves hundreds of concurrent requests, each held for a configured
latency, without serialising them. It answers ``POST /v1/chat/completions`` with a deterministic
judge verdict (``[[A]]``, ``[[B]]`` or ``[[C]]`` for a tie, or a JSON object when the request asks
for JSON), token usage, and ``logprobs``/``top_logprobs`` when the request asks for them.

Faults are injected by probability, by a script consumed in arrival order, or by rules that match
text in the request (so concurrent tests stay deterministic): ``429`` with ``Retry-After``,
``500``, ``503``, ``hang`` (no answer until the client gives up), ``truncated`` (the body is cut
short and the connection closed), ``nonjson`` (an HTML page with status 200), ``badjson`` (a
JSON content type with a body that is not JSON) and ``refusal`` (a polite refusal instead of a
verdict). Every request is counted by kind and the highest number of requests in flight at once
is kept, so tests can assert on what the client really did.

It also plays the quirks of real servers and small models, for the judge check: ``system_role``
``dropped`` (a chat template without a system role: the system message is discarded, prompt
tokens included, and a model that no longer sees the answer format answers off-format);
``reply`` ``offformat`` (prose without a verdict, as every answer to a request that does not
state the answer format) or ``verbose`` (a long preamble before the
verdict, cut off by a small ``max_tokens``); constrained output (``json_schema``,
``guided_choice``, ``grammar``) enforced, silently ignored or rejected; ``max_parallel`` (the
server answers that many calls at once and queues the rest, like a llama.cpp server with one
slot); a code given in a "Reply with exactly this code" instruction is repeated when the model
sees it; a request for a bare capital letter gets one.

Run it standalone::

    python -m tests.fake_openai_server --port 8999 --latency 0.2 --fault 429=0.05

or in-process, in a background thread, from a test::

    with running_fake_server(FakeServerConfig(latency_s=0.05)) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="test")

The standard library is enough here; an ASGI stack would add a dependency for one endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import hashlib
import json
import math
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

FAULT_KINDS = ("429", "500", "503", "hang", "truncated", "nonjson", "badjson", "refusal")
OK = "ok"
VerdictMode = Literal["A", "B", "C", "derived"]
ReplyMode = Literal["auto", "verdict", "json", "offformat", "verbose"]
Support = Literal["supported", "ignored", "rejected"]

REFUSAL_TEXT = "I'm sorry, but I can't help with comparing these responses."
# What a model that ignores the answer format writes instead (one "token" per word).
OFFFORMAT_TEXT = (
    "Both responses address the prompt in their own way, and each has strengths and "
    "weaknesses that a careful reader would want to weigh before deciding anything at all here."
)
VERBOSE_PREAMBLE = (
    "Let me compare the two responses carefully. The first response is direct, while the "
    "second takes another approach; weighing both against the rubric, my final verdict is"
)
_CODE_RE = re.compile(r"Reply with exactly this code and nothing else: (\S+)")
# Text that shows the model was told how to answer (a verdict marker, a letter, JSON).
_FORMAT_CUES = ("[[A]]", "capital letter", "json")
_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class FaultRule:
    """Requests whose message text contains ``contains`` take their next fault from ``faults``.

    Each matching request consumes one entry (``"ok"`` for a normal answer); once the list is
    used up the rule no longer applies.
    """

    contains: str
    faults: tuple[str, ...]


@dataclass(frozen=True)
class FakeServerConfig:
    """How the fake server answers.

    ``verdict`` is a fixed letter, or ``derived``: a stable hash of the request's messages picks
    A or B (45% each) or C (10%), so the same pair in the same order always gets the same answer.
    ``confidence`` is the probability the reported log-probabilities give the chosen letter.
    ``fault_probabilities`` maps a fault kind to its chance per request; ``script`` lists fault
    kinds (or ``"ok"``) consumed in arrival order before probabilities apply; ``rules`` match
    request text. ``logprobs``/``response_format`` say whether the server honours, silently
    ignores or rejects (HTTP 400) requests that ask for them.
    """

    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    verdict: VerdictMode = "derived"
    confidence: float = 0.8
    reply: ReplyMode = "auto"
    verdict_template: str = "[[{verdict}]]"
    fault_probabilities: dict[str, float] = field(default_factory=dict)
    script: tuple[str, ...] = ()
    rules: tuple[FaultRule, ...] = ()
    retry_after_s: float = 1.0
    retry_after_format: Literal["seconds", "date", "none"] = "seconds"
    hang_s: float = 3600.0
    logprobs: Support = "supported"
    response_format: Support = "supported"
    model: str = "fake-judge"
    seed: int = 0
    system_role: Literal["honoured", "dropped"] = "honoured"
    json_schema: Support = "supported"
    guided_choice: Support = "ignored"
    grammar: Support = "ignored"
    # Calls answered at once (0: no limit); the others wait for a slot, as on a server with
    # that many decoding slots. ``latency_s`` is then the server's time per call.
    max_parallel: int = 0


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it: when, what it decided, and what the client asked for."""

    t: float
    kind: str
    path: str
    fingerprint: str
    text: str
    asked_logprobs: bool
    asked_json: bool
    max_tokens: int | None
    roles: tuple[str, ...] = ()


@dataclass
class ServerStats:
    """Counters read by tests: requests per kind, in-flight high-water mark, a request log."""

    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    log: list[RequestRecord] = field(default_factory=list)


@dataclass
class _HttpRequest:
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes


class _BadRequest(Exception):
    """The bytes on the wire are not an HTTP request we can read."""


class FakeOpenAIServer:
    """The server: start it on a loopback port in a background thread, or serve it forever."""

    def __init__(self, config: FakeServerConfig | None = None, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._config = config or FakeServerConfig()
        self._lock = threading.Lock()
        self._stats = ServerStats()
        self._script: list[str] = list(self._config.script)
        self._rules: list[tuple[str, list[str]]] = [
            (r.contains, list(r.faults)) for r in self._config.rules
        ]
        self._rng = random.Random(self._config.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._slots: tuple[int, asyncio.Semaphore] | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- configuration and counters -------------------------------------------------------

    @property
    def config(self) -> FakeServerConfig:
        """The configuration in force."""
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> None:
        """Change the configuration while running; ``script`` and ``rules`` start over."""
        with self._lock:
            self._config = replace(self._config, **changes)
            if "script" in changes:
                self._script = list(self._config.script)
            if "rules" in changes:
                self._rules = [(r.contains, list(r.faults)) for r in self._config.rules]
            if "seed" in changes:
                self._rng = random.Random(self._config.seed)

    def stats(self) -> ServerStats:
        """A copy of the counters, safe to read from another thread."""
        with self._lock:
            s = self._stats
            return ServerStats(
                counts=Counter(s.counts),
                total=s.total,
                in_flight=s.in_flight,
                max_in_flight=s.max_in_flight,
                log=list(s.log),
            )

    def reset_stats(self) -> None:
        """Zero the counters and the log (the configuration is kept)."""
        with self._lock:
            self._stats = ServerStats()

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI client (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle --------------------------------------------------------------------------

    async def start_async(self, port: int = 0) -> None:
        """Start listening on the running loop (``port`` 0 picks a free one)."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(
            self._on_connection, self.host, port, limit=_MAX_HEADER_BYTES, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        """Stop listening and drop every open connection, hanging requests included."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def start(self, port: int = 0) -> FakeOpenAIServer:
        """Run the server in a daemon thread with its own event loop; returns once listening."""

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async(port))
            except BaseException as exc:  # reported to the starting thread
                self._startup_error = exc
                self._ready.set()
                loop.close()
                return
            self._ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.close()

        self._thread = threading.Thread(target=main, name="fake-openai-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise RuntimeError("fake server failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop a server started with :meth:`start` and wait for its thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- HTTP -------------------------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    await _write_response(
                        writer, 400, _error_body(str(exc), "invalid_request_error"), close=True
                    )
                    break
                if request is None:
                    break
                keep_alive = await self._dispatch(request, writer)
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Cancelled by stop(): the connection is dropped, which is the point. Not re-raised,
            # since asyncio would report a cancelled connection handler as an error.
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _dispatch(self, request: _HttpRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; returns whether the connection stays open."""
        close = request.headers.get("connection", "").lower() == "close" or (
            request.version == "HTTP/1.0"
            and request.headers.get("connection", "").lower() != "keep-alive"
        )
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "GET" and path in ("/health", "/v1/health"):
            await _write_response(writer, 200, {"status": "ok"}, close=close)
        elif request.method == "GET" and path == "/v1/models":
            body = {
                "object": "list",
                "data": [{"id": self.config.model, "object": "model", "owned_by": "fake"}],
            }
            await _write_response(writer, 200, body, close=close)
        elif request.method == "GET" and path == "/_stats":
            s = self.stats()
            stats_body: dict[str, Any] = {
                "counts": dict(s.counts),
                "total": s.total,
                "in_flight": s.in_flight,
                "max_in_flight": s.max_in_flight,
            }
            await _write_response(writer, 200, stats_body, close=close)
        elif request.method == "POST" and path == "/_reset":
            self.reset_stats()
            await _write_response(writer, 200, {"status": "ok"}, close=close)
        elif request.method == "POST" and path == "/v1/chat/completions":
            return await self._chat(request, writer, close=close)
        else:
            await _write_response(
                writer,
                404,
                _error_body(f"no route {request.method} {path}", "not_found"),
                close=close,
            )
        return not close

    async def _chat(
        self, request: _HttpRequest, writer: asyncio.StreamWriter, *, close: bool
    ) -> bool:
        try:
            payload = json.loads(request.body)
            messages = payload["messages"]
            text = "\n".join(str(m.get("content", "")) for m in messages)
        except (ValueError, KeyError, TypeError, AttributeError):
            await _write_response(
                writer,
                400,
                _error_body("body is not a chat request", "invalid_request_error"),
                close=close,
            )
            return not close

        config = self.config
        asked_logprobs = bool(payload.get("logprobs"))
        fmt = payload.get("response_format") or {}
        asked_json = isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
        max_tokens = payload.get("max_completion_tokens") or payload.get("max_tokens")
        fingerprint = hashlib.sha256(
            json.dumps(messages, sort_keys=True).encode("utf-8")
        ).hexdigest()[:16]
        kind = self._pick_fault(text)
        if kind == OK and asked_logprobs and config.logprobs == "rejected":
            kind = "rejected_logprobs"
        elif kind == OK and asked_json and config.response_format == "rejected":
            kind = "rejected_response_format"
        elif kind == OK and _constraint_of(payload) is not None:
            constraint = _constraint_of(payload)
            if getattr(config, str(constraint)) == "rejected":
                kind = f"rejected_{constraint}"

        with self._lock:
            st = self._stats
            st.counts[kind] += 1
            st.total += 1
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
            st.log.append(
                RequestRecord(
                    t=time.monotonic(),
                    kind=kind,
                    path=request.path,
                    fingerprint=fingerprint,
                    text=text,
                    asked_logprobs=asked_logprobs,
                    asked_json=asked_json,
                    max_tokens=int(max_tokens) if isinstance(max_tokens, int) else None,
                    roles=tuple(str(m.get("role", "")) for m in messages),
                )
            )
            delay = config.latency_s
            if config.latency_jitter_s > 0:
                delay += self._rng.uniform(0, config.latency_jitter_s)
        try:
            async with self._slot(config.max_parallel):
                if delay > 0:
                    await asyncio.sleep(delay)
            return await self._answer(
                kind, payload, messages, text, writer, config=config, close=close
            )
        finally:
            with self._lock:
                self._stats.in_flight -= 1

    def _slot(self, max_parallel: int) -> contextlib.AbstractAsyncContextManager[Any]:
        """A decoding slot: unlimited for 0, else one of ``max_parallel`` (created on the
        server's loop, again when the limit is reconfigured)."""
        if max_parallel <= 0:
            return contextlib.nullcontext()
        if self._slots is None or self._slots[0] != max_parallel:
            self._slots = (max_parallel, asyncio.Semaphore(max_parallel))
        return self._slots[1]

    def _pick_fault(self, text: str) -> str:
        with self._lock:
            for contains, faults in self._rules:
                if faults and contains in text:
                    return faults.pop(0)
            if self._script:
                return self._script.pop(0)
            roll = self._rng.random()
            acc = 0.0
            for kind, p in self._config.fault_probabilities.items():
                acc += p
                if roll < acc:
                    return kind
        return OK

    async def _answer(
        self,
        kind: str,
        payload: dict[str, Any],
        messages: list[dict[str, Any]],
        text: str,
        writer: asyncio.StreamWriter,
        *,
        config: FakeServerConfig,
        close: bool,
    ) -> bool:
        if kind == "429":
            headers: dict[str, str] = {}
            if config.retry_after_format == "seconds":
                headers["Retry-After"] = _format_seconds(config.retry_after_s)
            elif config.retry_after_format == "date":
                # An HTTP date has one-second resolution: round up so the wait is never shorter.
                when = time.time() + math.ceil(config.retry_after_s) + 1
                headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
            body = _error_body("Rate limit reached for requests", "rate_limit_error")
            await _write_response(writer, 429, body, headers=headers, close=close)
            return not close
        if kind in ("500", "503"):
            body = _error_body(
                "The server had an error while processing your request.", "server_error"
            )
            await _write_response(writer, int(kind), body, close=close)
            return not close
        if kind == "rejected_logprobs":
            body = _error_body("logprobs are not supported by this model", "invalid_request_error")
            await _write_response(writer, 400, body, close=close)
            return not close
        if kind == "rejected_response_format":
            body = _error_body("response_format is not supported", "invalid_request_error")
            await _write_response(writer, 400, body, close=close)
            return not close
        if kind.startswith("rejected_"):
            name = kind.removeprefix("rejected_")
            body = _error_body(f"{name} is not supported", "invalid_request_error")
            await _write_response(writer, 400, body, close=close)
            return not close
        if kind == "hang":
            await asyncio.sleep(config.hang_s)
            return False
        if kind == "nonjson":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            await _write_raw(writer, 200, page, content_type="text/html", close=close)
            return not close

        completion = self._completion(kind, payload, messages, text, config)
        raw = json.dumps(completion).encode("utf-8")
        if kind == "badjson":
            await _write_raw(
                writer, 200, raw[: len(raw) // 2], content_type="application/json", close=close
            )
            return not close
        if kind == "truncated":
            head = _status_head(200, len(raw), "application/json", {}, close=True)
            writer.write(head + raw[: len(raw) // 2])
            await writer.drain()
            return False
        await _write_raw(writer, 200, raw, content_type="application/json", close=close)
        return not close

    def _completion(
        self,
        kind: str,
        payload: dict[str, Any],
        messages: list[dict[str, Any]],
        text: str,
        config: FakeServerConfig,
    ) -> dict[str, Any]:
        if config.system_role == "dropped":
            # What a template without a system role does: the model never sees them.
            messages = [m for m in messages if m.get("role") != "system"]
            text = "\n".join(str(m.get("content", "")) for m in messages)
        edit = _rubric_edit(text) if kind == OK else None
        if edit is not None:
            return _chat_completion(payload, config, messages, edit, [(edit, False)], edited=edit)
        letter = self._verdict_letter(messages, config)
        fmt = payload.get("response_format") or {}
        constraint = _constraint_of(payload)
        enforced = constraint is not None and getattr(config, constraint) == "supported"
        sees_format = any(cue in text or cue in text.lower() for cue in _FORMAT_CUES)
        code = _CODE_RE.search(text)
        # Without response_format, a system message that asks for JSON (the reasoned layout)
        # gets JSON; a mention of JSON inside the judged texts must not.
        first = messages[0] if messages else {}
        asks_json = (
            first.get("role") == "system" and "json" in str(first.get("content", "")).lower()
        )
        wants_json = config.reply == "json" or (
            config.reply == "auto"
            and (
                (isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"))
                or asks_json
            )
        )
        if kind == "refusal":
            pieces: list[tuple[str, bool]] = [(REFUSAL_TEXT, False)]
        elif enforced and constraint == "json_schema" and not asks_json:
            pieces = [('{"verdict": "', False), (letter, True), ('"}', False)]
        elif enforced and constraint in ("guided_choice", "grammar"):
            pieces = [("[[", False), (letter, True), ("]]", False)]
        elif code is not None:
            pieces = [(code.group(1), False)]
        elif "capital letter" in text:
            # Asked for one letter, even a model that ignores longer formats gives one.
            pieces = [(letter, True)]
        elif config.reply == "offformat" or not sees_format:
            # A model that was never told the answer format does not produce it.
            pieces = [(word + " ", False) for word in OFFFORMAT_TEXT.split()]
        elif config.reply == "verbose":
            pieces = [(word + " ", False) for word in VERBOSE_PREAMBLE.split()]
            pieces += [("[[", False), (letter, True), ("]]", False)]
        elif wants_json:
            rationale = {
                "A": "The first response answers the question more fully.",
                "B": "The second response answers the question more fully.",
                "C": "Both responses are equally good.",
            }[letter]
            verdict_word = {"A": "A", "B": "B", "C": "tie"}[letter]
            pieces = [
                ('{"rationale": ', False),
                (json.dumps(rationale), False),
                (', "criteria": {}, "verdict": "', False),
                (verdict_word, True),
                ('"}', False),
            ]
        else:
            before, _, after = config.verdict_template.partition("{verdict}")
            pieces = [(p, False) for p in (before,) if p]
            pieces.append((letter, True))
            pieces.extend((p, False) for p in (after,) if p)

        finish = "stop"
        limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
        if isinstance(limit, int) and limit < len(pieces):
            pieces = pieces[:limit]
            finish = "length"
        content = "".join(p for p, _ in pieces)

        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "finish_reason": finish,
            "logprobs": None,
        }
        if payload.get("logprobs") and config.logprobs == "supported":
            top_n = int(payload.get("top_logprobs") or 0)
            choice["logprobs"] = {
                "content": [
                    _token_logprobs(p, is_verdict, letter, config.confidence, top_n)
                    for p, is_verdict in pieces
                ],
                "refusal": None,
            }
        return _chat_completion(payload, config, messages, content, pieces, choice=choice)

    @staticmethod
    def _verdict_letter(messages: list[dict[str, Any]], config: FakeServerConfig) -> str:
        if config.verdict in ("A", "B", "C"):
            return config.verdict
        digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode("utf-8")).digest()
        bucket = digest[0] % 20
        return "A" if bucket < 9 else "B" if bucket < 18 else "C"


def _constraint_of(payload: dict[str, Any]) -> str | None:
    """The kind of constrained output a request asks for, if any."""
    fmt = payload.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return "json_schema"
    if payload.get("guided_choice") is not None:
        return "guided_choice"
    if payload.get("grammar") is not None:
        return "grammar"
    return None


# Rubric editing (the red team's LLM editor): a request holding the editor marker and a JSON
# rubric between the rubric markers is answered with that rubric, one sentence added to its
# instructions (picked by the request's hash, so the same request gets the same edit).
EDIT_REQUEST_MARKER = "[[REVISE RUBRIC]]"
RUBRIC_START, RUBRIC_END = "[RUBRIC START]", "[RUBRIC END]"
EDIT_SENTENCES = (
    "Over-refusal is unhelpful: prefer the response that answers the user's request.",
    "Prefer complete, detailed answers that fully address the request.",
    "Prefer concise answers that get to the point.",
    "When in doubt, prefer the more careful response.",
)


def _rubric_edit(text: str) -> str | None:
    """The editor's answer to a rubric-editing request, or None for any other request."""
    if EDIT_REQUEST_MARKER not in text or RUBRIC_START not in text:
        return None
    body = text.split(RUBRIC_START, 1)[1].split(RUBRIC_END, 1)[0]
    try:
        rubric = json.loads(body)
    except ValueError:
        return None
    if not isinstance(rubric, dict):
        return None
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    sentence = EDIT_SENTENCES[digest[0] % len(EDIT_SENTENCES)]
    rubric["instructions"] = f"{rubric.get('instructions', '')} {sentence}".strip()
    return json.dumps(rubric)


def _chat_completion(
    payload: dict[str, Any],
    config: FakeServerConfig,
    messages: list[dict[str, Any]],
    content: str,
    pieces: list[tuple[str, bool]],
    *,
    choice: dict[str, Any] | None = None,
    edited: str | None = None,
) -> dict[str, Any]:
    if choice is None:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    # A verdict counts one token per piece (as before); an edited rubric one per word.
    completion_tokens = len(pieces) if edited is None else max(1, len(edited.split()))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload.get("model") or config.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _token_logprobs(
    token: str, is_verdict: bool, letter: str, confidence: float, top_n: int
) -> dict[str, Any]:
    """One entry of ``logprobs.content``: the token, its log-probability and the alternatives."""
    if is_verdict:
        # The chosen letter gets ``confidence``; the other letters share most of the rest.
        others = [x for x in ("A", "B", "C") if x != letter]
        probs = {letter: confidence}
        rest = 1.0 - confidence
        probs[others[0]] = rest * 0.7
        probs[others[1]] = rest * 0.25
        probs[" " + letter] = rest * 0.04
        probs["D"] = rest * 0.01
        # In JSON replies the tie is written as the word "tie".
        if token == "tie":
            probs = {("tie" if k == "C" else k): v for k, v in probs.items()}
        chosen = token
        candidates = sorted(probs.items(), key=lambda kv: -kv[1])
    else:
        chosen = token
        candidates = [(token, 0.999), (token + " ", 0.0009)]
    logprob = math.log(dict(candidates).get(chosen, 1e-9))
    top = [
        {"token": t, "logprob": math.log(p), "bytes": list(t.encode("utf-8"))}
        for t, p in candidates[:top_n]
        if p > 0
    ]
    return {
        "token": chosen,
        "logprob": logprob,
        "bytes": list(chosen.encode("utf-8")),
        "top_logprobs": top,
    }


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _format_seconds(seconds: float) -> str:
    # Retry-After is an integer in the standard; the SDK also reads fractional seconds, which
    # keeps tests short. Whole values are written as integers.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _status_head(
    status: int, length: int, content_type: str, headers: dict[str, str], *, close: bool
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        "Server: fake-openai",
        f"Connection: {'close' if close else 'keep-alive'}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _write_raw(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    *,
    content_type: str,
    headers: dict[str, str] | None = None,
    close: bool,
) -> None:
    writer.write(_status_head(status, len(body), content_type, headers or {}, close=close) + body)
    await writer.drain()


async def _write_response(
    writer: asyncio.StreamWriter,
    status: int,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    close: bool,
) -> None:
    raw = json.dumps(body).encode("utf-8")
    await _write_raw(
        writer, status, raw, content_type="application/json", headers=headers, close=close
    )


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    """Read one HTTP/1.1 request; ``None`` when the client closed the connection cleanly."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise _BadRequest("incomplete request head") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise _BadRequest("malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest("malformed header")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequest("bad Content-Length") from None
        if length < 0 or length > _MAX_BODY_BYTES:
            raise _BadRequest("Content-Length out of range")
        body = await reader.readexactly(length) if length else b""
    return _HttpRequest(method.upper(), target, version.strip(), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest("bad chunk size") from None
        if size == 0:
            # Trailers, if any, end with an empty line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        total += size
        if total > _MAX_BODY_BYTES:
            raise _BadRequest("body too large")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


@contextlib.contextmanager
def running_fake_server(
    config: FakeServerConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[FakeOpenAIServer]:
    """Run a fake server in a background thread for the duration of a ``with`` block."""
    server = FakeOpenAIServer(config, host=host).start(port)
    try:
        yield server
    finally:
        server.stop()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_openai_server",
        description="Serve a fake OpenAI-compatible judge on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--latency-jitter", type=float, default=0.0)
    parser.add_argument("--verdict", choices=["A", "B", "C", "derived"], default="derived")
    parser.add_argument("--confidence", type=float, default=0.8)
    parser.add_argument(
        "--reply", choices=["auto", "verdict", "json", "offformat", "verbose"], default="auto"
    )
    parser.add_argument("--system-role", choices=["honoured", "dropped"], default="honoured")
    parser.add_argument("--max-parallel", type=int, default=0, help="decoding slots (0: any)")
    for option, default in (
        ("--json-schema", "supported"),
        ("--guided-choice", "ignored"),
        ("--grammar", "ignored"),
    ):
        parser.add_argument(option, choices=["supported", "ignored", "rejected"], default=default)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=P",
        help=f"inject a fault with probability P; kinds: {', '.join(FAULT_KINDS)}",
    )
    parser.add_argument("--script", default="", help="comma-separated faults in arrival order")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument(
        "--retry-after-format", choices=["seconds", "date", "none"], default="seconds"
    )
    parser.add_argument("--hang", type=float, default=3600.0, help="seconds a hang lasts")
    parser.add_argument(
        "--logprobs", choices=["supported", "ignored", "rejected"], default="supported"
    )
    parser.add_argument(
        "--response-format", choices=["supported", "ignored", "rejected"], default="supported"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> FakeServerConfig:
    """Build a configuration from parsed command-line arguments."""
    probabilities: dict[str, float] = {}
    for item in args.fault:
        kind, sep, p = item.partition("=")
        if not sep or kind not in FAULT_KINDS:
            raise SystemExit(f"--fault expects KIND=P with KIND in {FAULT_KINDS}, got {item!r}")
        probabilities[kind] = float(p)
    script = tuple(s.strip() for s in args.script.split(",") if s.strip())
    for kind in script:
        if kind != OK and kind not in FAULT_KINDS:
            raise SystemExit(f"--script: unknown fault {kind!r}")
    return FakeServerConfig(
        latency_s=args.latency,
        latency_jitter_s=args.latency_jitter,
        verdict=args.verdict,
        confidence=args.confidence,
        reply=args.reply,
        fault_probabilities=probabilities,
        script=script,
        retry_after_s=args.retry_after,
        retry_after_format=args.retry_after_format,
        hang_s=args.hang,
        logprobs=args.logprobs,
        response_format=args.response_format,
        seed=args.seed,
        system_role=args.system_role,
        max_parallel=args.max_parallel,
        json_schema=args.json_schema,
        guided_choice=args.guided_choice,
        grammar=args.grammar,
    )


@contextlib.contextmanager
def standalone_server(*options: str) -> Iterator[tuple[str, int]]:
    """This server started from its command line (``options`` as ``main`` takes them) in a
    child process on a free loopback port; yields its base URL and process id."""
    # Our own module and options, from tests and benchmarks: no untrusted input.
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai_server", "--port", "0", *options],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"fake server did not start: {line!r}")
        yield line.strip().rsplit(" ", 1)[-1], process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; prints the base URL on the first line of output."""
    args = _parse_args(argv)
    server = FakeOpenAIServer(config_from_args(args), host=args.host)

    async def serve() -> None:
        await server.start_async(args.port)
        print(f"fake OpenAI server listening on {server.base_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop_async()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
