"""Reading a judge's answer: verdict markers, JSON objects, verdict-token probabilities.

Everything here is in terms of the *shown* order: ``A`` in the judge's answer is the first shown
response. Judges answer sloppily, so parsing is tolerant, but an answer that names no verdict
(a refusal, an empty string, prose without a marker) is ``invalid``, never a guess.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from apps.judging.types import ShownVerdict

# [[A]], [[ b ]], [[C]] (tie in the RIPD convention) or [[tie]]; the last one in the text wins,
# because judges often restate the options before concluding.
_MARKER_RE = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
# "Final verdict: B", "Verdict - Assistant A": the letter must be a capital, so the article in
# "the verdict is a matter of ..." does not count.
_LABELLED_RE = re.compile(
    r"(?i:verdict)\s*(?:(?i:is)\s*)?[:\-=]?\s*\**\s*(?:(?i:assistant|response)\s+)?"
    r"\(?\s*(A|B|C|(?i:tie))\b"
)
# A whole answer that is just the letter, possibly decorated: "A", "(B)", "**A**", "Assistant B."
_BARE_RE = re.compile(r"^(?:(?:assistant|response|answer|output)\s*)?(a|b|c|tie)$", re.IGNORECASE)
_BARE_STRIP = " \t\r\n*_`'\"()[]{}.:;,!"
# Square brackets are kept in JSON values so that "[[A]]" can be looked up as a whole.
_VALUE_STRIP = " \t\r\n*_`'\"(){}.:;,!"

_LETTER_TO_SHOWN: dict[str, ShownVerdict] = {
    "A": "first",
    "B": "second",
    "C": "tie",
    "TIE": "tie",
}
# Values a reasoned answer may use for a verdict or a criterion verdict.
_VALUE_TO_SHOWN: dict[str, ShownVerdict] = {
    **_LETTER_TO_SHOWN,
    "[[A]]": "first",
    "[[B]]": "second",
    "[[C]]": "tie",
    "ASSISTANT A": "first",
    "ASSISTANT B": "second",
    "RESPONSE A": "first",
    "RESPONSE B": "second",
    "FIRST": "first",
    "SECOND": "second",
    "DRAW": "tie",
    "EQUAL": "tie",
    "BOTH": "tie",
    "NEITHER": "tie",
    "NONE": "tie",
}

_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON|javascript|js)?[ \t]*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
_JSON_LITERALS_RE = re.compile(r"\b(true|false|null)\b")
_PY_LITERALS = {"true": "True", "false": "False", "null": "None"}
# Beyond this size a candidate object is not tried with the slower fallbacks.
_MAX_CANDIDATE_CHARS = 200_000


def parse_verdict(text: str) -> ShownVerdict:
    """The shown verdict in a judge's free-text answer.

    In order of precedence: the last ``[[A]]``/``[[B]]``/``[[C]]``/``[[tie]]`` marker; the last
    "verdict: X" label; an answer that is only the letter (``A``, ``(B)``, ``Assistant A.``,
    ``tie``). Anything else, refusals included, is ``invalid``.
    """
    markers = _MARKER_RE.findall(text)
    if markers:
        return _LETTER_TO_SHOWN[markers[-1].upper()]
    labelled = _LABELLED_RE.findall(text)
    if labelled:
        return _LETTER_TO_SHOWN[labelled[-1].upper()]
    bare = _BARE_RE.match(text.strip(_BARE_STRIP))
    if bare:
        return _LETTER_TO_SHOWN[bare.group(1).upper()]
    return "invalid"


def verdict_value(value: Any) -> ShownVerdict:
    """A verdict given as a JSON value (``"A"``, ``"Assistant B"``, ``"tie"``, ``"[[A]]"``...)."""
    if not isinstance(value, str):
        return "invalid"
    cleaned = " ".join(value.strip(_VALUE_STRIP).split()).upper()
    if cleaned in _VALUE_TO_SHOWN:
        return _VALUE_TO_SHOWN[cleaned]
    return parse_verdict(value)


def _balanced_objects(text: str) -> Iterator[str]:
    """Substrings from each top-level ``{`` to its matching ``}``, braces in "strings" ignored."""
    depth = 0
    start = -1
    in_string = False
    escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"' and depth > 0:
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                yield text[start : index + 1]


def _load_lenient(candidate: str) -> Any:
    """Decode a JSON-ish object: strict JSON, then without trailing commas, then Python-style.

    The last fallback (``ast.literal_eval``) accepts single-quoted strings, which judges produce
    often; it evaluates literals only, never code.
    """
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    without_commas = _TRAILING_COMMA_RE.sub(r"\1", candidate)
    try:
        return json.loads(without_commas)
    except ValueError:
        pass
    if len(candidate) > _MAX_CANDIDATE_CHARS:
        return None
    pythonic = _JSON_LITERALS_RE.sub(lambda m: _PY_LITERALS[m.group(1)], without_commas)
    try:
        return ast.literal_eval(pythonic)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def extract_json_object(text: str) -> dict[str, Any] | None:
    """The judge's JSON object in ``text``: fenced blocks first, then bare objects, last first.

    An object with a ``verdict`` key is preferred over one without. ``None`` when there is none.
    """
    candidates = [m.group(1) for m in _FENCE_RE.finditer(text)][::-1]
    candidates += list(_balanced_objects(text))[::-1]
    fallback: dict[str, Any] | None = None
    for candidate in candidates:
        stripped = candidate.strip()
        if not stripped.startswith("{"):
            found = next(_balanced_objects(stripped), None)
            if found is None:
                continue
            stripped = found
        loaded = _load_lenient(stripped)
        if isinstance(loaded, dict):
            if "verdict" in loaded:
                return loaded
            if fallback is None:
                fallback = loaded
    return fallback


def _criteria_from(value: Any) -> dict[str, str]:
    """Per-criterion shown verdicts from a ``criteria`` mapping (or a list of small objects)."""
    items: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        for entry in value:
            if isinstance(entry, Mapping):
                key = entry.get("key", entry.get("criterion", entry.get("name")))
                items.append((key, entry.get("verdict", entry.get("winner"))))
    criteria: dict[str, str] = {}
    for key, raw in items:
        if key is None:
            continue
        shown = verdict_value(raw)
        if shown != "invalid":
            criteria[str(key)] = shown
    return criteria


def parse_reasoned(text: str) -> tuple[ShownVerdict, str, dict[str, str]]:
    """``(verdict, rationale, criteria)`` from a reasoned answer.

    Reads the JSON object ``{"rationale", "criteria", "verdict"}`` tolerantly (fenced block,
    prose around it, trailing commas, single quotes). When the object is missing or has no
    usable verdict, the verdict comes from the markers in the text (``parse_verdict``) and the
    rationale is the whole answer. Criterion verdicts that cannot be read are left out.
    """
    obj = extract_json_object(text)
    if obj is None:
        return parse_verdict(text), text.strip(), {}
    verdict = verdict_value(obj.get("verdict", obj.get("final_verdict", obj.get("winner"))))
    if verdict == "invalid":
        verdict = parse_verdict(text)
    rationale = obj.get("rationale", obj.get("reasoning", obj.get("explanation", "")))
    if not isinstance(rationale, str):
        rationale = json.dumps(rationale, ensure_ascii=False)
    return verdict, rationale.strip(), _criteria_from(obj.get("criteria"))


def verdict_token_class(token: str) -> ShownVerdict | None:
    """What a single generated token says about the verdict, or ``None`` if nothing.

    ``"A"``, ``" A"``, ``"A]]"`` -> first; ``"B"`` -> second; ``"C"``, ``"tie"`` -> tie. Only
    capital letters count, so a lowercase article "a" is not read as a verdict.
    """
    cleaned = token.strip().strip("[]()*\"'").strip()
    if cleaned in ("A", "B", "C"):
        return _LETTER_TO_SHOWN[cleaned]
    if cleaned.upper() == "TIE":
        return "tie"
    return None


def p_first_from_logprobs(top_logprobs: Sequence[tuple[str, float]]) -> float | None:
    """P(first shown response better) from the verdict position's top log-probabilities.

    The probabilities of tokens meaning the same verdict (``"A"`` and ``" A"``) are added, then
    renormalised over the verdict tokens only. Tie mass counts half for each side:
    ``p_first = (P(A) + P(tie)/2) / (P(A) + P(B) + P(tie))``, the expected score of the first
    response under the same 1 / 0.5 / 0 credit that accuracy uses. ``None`` when no verdict token
    is among ``top_logprobs`` (or all have zero probability).
    """
    masses: dict[ShownVerdict, float] = {"first": 0.0, "second": 0.0, "tie": 0.0}
    found: list[tuple[ShownVerdict, float]] = []
    for token, logprob in top_logprobs:
        shown = verdict_token_class(token)
        if shown is not None and logprob is not None and not math.isnan(logprob):
            found.append((shown, logprob))
    if not found:
        return None
    # Subtracting the largest log-probability keeps exp() away from underflow.
    top = max(logprob for _, logprob in found)
    if top == -math.inf:
        return None
    for shown, logprob in found:
        masses[shown] += math.exp(logprob - top)
    total = masses["first"] + masses["second"] + masses["tie"]
    return (masses["first"] + 0.5 * masses["tie"]) / total
