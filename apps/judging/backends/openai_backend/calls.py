"""One HTTP call to the endpoint: the completion, or a failure classified for the retry loop
(retryable or not, answered or never reached, the server's ``Retry-After``)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from apps.core import egress
from apps.judging.backends.openai_backend.retry import RETRY_STATUSES, Failure, parse_retry_after

# Transport errors that mean the endpoint was never reached (nothing listening, no route).
_UNREACHED = frozenset({"ConnectError", "ConnectTimeout"})


async def call_endpoint(
    client: AsyncOpenAI, args: dict[str, Any], *, timeout_s: float
) -> ChatCompletion | Failure:
    """One HTTP call: the completion, or a classified failure. Never raises for HTTP trouble."""
    try:
        # The SDK's timeout is per network operation; this bounds the whole call.
        async with asyncio.timeout(timeout_s):
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
        return Failure(f"timed out after {timeout_s:g}s", retryable=True)
    except (egress.EgressRefused, openai.APIConnectionError) as exc:
        refused = egress.refusal_in(exc)
        if refused is not None:
            # Nothing was sent. Not retried, and not "unreached" (which would retry the
            # chunk): the policy would refuse the same connection again.
            return Failure(f"refused by the egress policy: {refused}", retryable=False)
        if not isinstance(exc, openai.APIConnectionError):
            raise
        # APITimeoutError is a subclass. The transport's own exception is the cause; it is
        # read by name because the SDK's transport package has changed between releases.
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else ""
        reached = cause not in _UNREACHED
        if isinstance(exc, openai.APITimeoutError):
            message = f"timed out after {timeout_s:g}s"
        else:
            message = f"connection error: {cause or type(exc).__name__}"
        return Failure(message, retryable=True, answered=reached)
    except openai.APIStatusError as exc:
        status = exc.status_code
        retryable = status in RETRY_STATUSES or status >= 500
        retry_after = parse_retry_after(exc.response.headers) if retryable else None
        return Failure(
            f"HTTP {status}: {_short(exc.message)}",
            retryable=retryable,
            retry_after=retry_after,
            status=status,
            raw=_short(exc.response.text, 2000),
        )
    except ValueError as exc:
        # A 200 whose JSON body does not decode (cut short by a proxy, say).
        return Failure(f"malformed response: {_short(str(exc))}", retryable=True)
    if not isinstance(answer, ChatCompletion):
        # The SDK hands back the text of a non-JSON 200 (an HTML error page from a proxy).
        return Failure(
            "malformed response: not a chat completion",
            retryable=True,
            raw=_short(str(answer), 2000),
        )
    if not answer.choices or answer.choices[0].message is None:
        return Failure("malformed response: no choices", retryable=True)
    return answer


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
