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

The package by concern: ``retry`` (backoff, ``Retry-After``, pacing, what a batch shares),
``calls`` (one HTTP call and its classified failure), ``answers`` (reading a completion) and
``backend`` (the registered backend and its retry loop).
"""

from apps.judging.backends.openai_backend.answers import verdict_position_logprobs
from apps.judging.backends.openai_backend.backend import (
    DEFAULT_MAX_TOKENS,
    ONE_TOKEN_TOP_LOGPROBS,
    EndpointUnreachable,
    OpenAIBackend,
)
from apps.judging.backends.openai_backend.retry import (
    RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ONE_TOKEN_TOP_LOGPROBS",
    "RETRY_STATUSES",
    "EndpointUnreachable",
    "OpenAIBackend",
    "RetryPolicy",
    "parse_retry_after",
    "verdict_position_logprobs",
]
