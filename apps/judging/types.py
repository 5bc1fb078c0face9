"""Plain types exchanged between the run machinery and the judge backends.

A backend sees one *shown* order of a pair: ``first`` and ``second``. It answers in those terms
(``first``/``second``/``tie``/``invalid``); the protocol module maps that back to the pair's own
A and B, so a judgment's verdict always means the pair's A or B whatever order was shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from apps.rubrics.spec import RubricSpec

Order = Literal["AB", "BA"]
PairVerdict = Literal["A", "B", "tie", "invalid"]
ShownVerdict = Literal["first", "second", "tie", "invalid"]
# How a judge is asked to answer: a bare verdict marker, or a JSON object with a rationale and
# one verdict per criterion. A rubric's ``output_format`` holds one of these.
Mode = Literal["verdict", "reasoned"]

ORDERS: tuple[Order, ...] = ("AB", "BA")
PAIR_VERDICTS: tuple[PairVerdict, ...] = ("A", "B", "tie", "invalid")
SHOWN_VERDICTS: tuple[ShownVerdict, ...] = ("first", "second", "tie", "invalid")
MODES: tuple[Mode, ...] = ("verdict", "reasoned")


@dataclass(frozen=True)
class PairText:
    """The texts of a pair as the judge needs them."""

    prompt: str
    response_a: str
    response_b: str
    domain: str = ""


@dataclass(frozen=True)
class JudgeRequest:
    """One call to a judge: a pair in one order, with the rendered chat messages.

    ``key`` identifies the request within a batch (the run uses ``"<pair_id>:<order>"``).
    ``messages`` are OpenAI-style chat messages, rubric first and pair last, so every request of
    a run shares one long prefix. ``rubric``, ``prompt``, ``first`` and ``second`` are carried for
    backends that read the texts directly (the offline judge).
    """

    key: str
    order: Order
    messages: tuple[dict[str, str], ...]
    rubric: RubricSpec
    prompt: str
    first: str
    second: str


@dataclass
class JudgeResult:
    """A backend's answer to one request, in terms of the shown order.

    ``criteria`` maps a criterion key to a shown verdict (``first``/``second``/``tie``) when the
    judge gave one per criterion; ``protocol.criteria_to_pair`` maps it to the pair's A and B.
    ``latency_ms`` is the server's time for the call that gave the answer, never time spent
    queued in the client.
    """

    key: str
    verdict: ShownVerdict
    p_first: float | None = None
    rationale: str = ""
    criteria: dict[str, str] = field(default_factory=dict)
    raw_output: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    attempts: int = 1
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # How the verdict was obtained (``options.VERDICT_SOURCES``): parsed from free ``text``, a
    # constrained answer (``json_schema``, ``guided_choice``, ``grammar``), the first token's
    # ``logprobs``, or the offline judge's ``rules``.
    verdict_source: str = "text"
    # Time spent waiting before the call that answered (concurrency slot, pacing, backoff);
    # ``latency_ms`` is the call itself.
    queue_ms: int = 0

    @classmethod
    def failure(
        cls, key: str, error: str, *, raw_output: str = "", attempts: int = 1, latency_ms: int = 0
    ) -> JudgeResult:
        """A result for a request that produced no usable verdict (error after retries)."""
        return cls(
            key=key,
            verdict="invalid",
            raw_output=raw_output,
            attempts=attempts,
            latency_ms=latency_ms,
            error=error,
        )


@dataclass(frozen=True)
class AggregatedVerdict:
    """The verdict for a pair once both orders are judged, in terms of the pair's A and B.

    ``consistent`` is true when the two orders gave the same pair verdict (and neither was
    invalid). ``p_a`` is P(A better) from both orders' verdict-token probabilities, or ``None``
    when either order had none.
    """

    verdict: PairVerdict
    consistent: bool
    p_a: float | None = None
