"""Reading a completion: the verdict (constrained, reasoned, a marker or one token), its
probability from the log-probabilities, tokens and the server's notes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from openai.types.chat import ChatCompletion

from apps.judging.parsing import (
    extract_json_object,
    p_first_from_logprobs,
    parse_reasoned,
    parse_verdict,
    verdict_token_class,
    verdict_value,
)
from apps.judging.types import JudgeRequest, JudgeResult, Mode, ShownVerdict

# Where the verdict letter sits in the generated text: the last [[X]] marker (what
# parsing.parse_verdict reads) or the value of a JSON "verdict" key.
_MARKER_RE = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_JSON_VERDICT_RE = re.compile(r"\"verdict\"\s*:\s*\"\s*(?:\[\[)?\s*(A|B|C|tie)\b", re.IGNORECASE)


def completion_result(
    request: JudgeRequest,
    mode: Mode,
    completion: ChatCompletion,
    *,
    used_logprobs: bool,
    constrained: bool,
    one_token: bool,
    constrain: str,
) -> JudgeResult:
    """The ``JudgeResult`` of a completion: tokens, the verdict read as the request asked for
    it (constrained, reasoned, marker or one token), ``p_first`` from log-probabilities."""
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
    if one_token:
        return one_token_result(result, choice, content, used_logprobs=used_logprobs)
    if not content.strip():
        result.error = "empty answer"
        return result

    verdict: ShownVerdict
    if constrained:
        result.verdict_source = constrain
    if constrained and constrain == "json_schema" and mode == "verdict":
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


def one_token_result(
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
