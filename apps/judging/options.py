"""How a judge config asks for its verdicts: prompt layout, constrained output, one-token mode.

These live in a judge config's ``params`` next to ``mode``, ``max_tokens`` and the others, so the
judge check's recommendations are plain parameter changes an author can read and undo:

* ``prompt_layout``: ``system`` (the rubric in a system message, the default) or ``merged``
  (folded into the first user message, for chat templates without a system role);
* ``constrain``: ``off`` (the default), ``json_schema`` (OpenAI structured outputs, vLLM, SGLang,
  llama.cpp), ``guided_choice`` (vLLM/SGLang) or ``grammar`` (llama.cpp GBNF): the server may
  only generate one of the allowed answers;
* ``one_token``: ask for a bare letter with ``max_tokens`` 1 and read the verdict (and
  ``p_first``) from the first token's log-probabilities.

Pure functions only; the backends and the judge check read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.judging.prompting import PROMPT_LAYOUTS

CONSTRAINTS = ("off", "json_schema", "guided_choice", "grammar")
# The answer length a judge gets when its params set no ``max_tokens``, by mode.
DEFAULT_MAX_TOKENS: dict[str, int] = {"verdict": 16, "reasoned": 1024}
# How a stored verdict was obtained (``Judgment.verdict_source``).
VERDICT_SOURCES = ("text", "json_schema", "guided_choice", "grammar", "logprobs", "rules")
# The answers a constrained verdict-mode request may produce (shown positions; C is a tie).
CHOICES = ("[[A]]", "[[B]]", "[[C]]")
GRAMMAR = 'root ::= "[[A]]" | "[[B]]" | "[[C]]"'
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["A", "B", "C"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}
REASONED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "verdict": {"type": "string", "enum": ["A", "B", "tie"]},
    },
    "required": ["rationale", "verdict"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class JudgeOptions:
    """The three answer options of a judge config, read and defaulted."""

    layout: str = "system"
    constrain: str = "off"
    one_token: bool = False


def judge_options(params: Mapping[str, Any]) -> JudgeOptions:
    """The options in ``params``; values that are not valid fall back to the defaults (the
    config's validation refuses them on save, so only hand-edited rows can hold them)."""
    layout = str(params.get("prompt_layout", "system"))
    constrain = str(params.get("constrain", "off"))
    return JudgeOptions(
        layout=layout if layout in PROMPT_LAYOUTS else "system",
        constrain=constrain if constrain in CONSTRAINTS else "off",
        one_token=params.get("one_token") is True,
    )


def option_errors(params: Mapping[str, Any]) -> list[str]:
    """Messages for the answer options of ``params`` that are not valid (empty when all are)."""
    errors: list[str] = []
    layout = params.get("prompt_layout", "system")
    if layout not in PROMPT_LAYOUTS:
        errors.append(f"prompt_layout must be one of {', '.join(PROMPT_LAYOUTS)}.")
    constrain = params.get("constrain", "off")
    if constrain not in CONSTRAINTS:
        errors.append(f"constrain must be one of {', '.join(CONSTRAINTS)}.")
    if "one_token" in params and not isinstance(params["one_token"], bool):
        errors.append("one_token must be true or false.")
    if params.get("one_token") is True and params.get("mode") == "reasoned":
        errors.append("one_token reads a bare verdict letter: it needs mode verdict.")
    return errors


def constraint_arguments(constrain: str, *, reasoned: bool) -> dict[str, Any]:
    """The request-body entries that constrain the answer (empty for ``off``)."""
    if constrain == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "judgment" if reasoned else "verdict",
                    "schema": REASONED_SCHEMA if reasoned else VERDICT_SCHEMA,
                    "strict": True,
                },
            }
        }
    if reasoned:
        # Choices and a one-line grammar cannot hold a rationale: reasoned answers stay free.
        return {}
    if constrain == "guided_choice":
        return {"guided_choice": list(CHOICES)}
    if constrain == "grammar":
        return {"grammar": GRAMMAR}
    return {}


def max_tokens(params: Mapping[str, Any], mode: str) -> int:
    """The ``max_tokens`` in ``params`` for an answer in ``mode``; the mode's default when it
    is unset or not a whole number (an upper bound of the tokens a judgment costs)."""
    try:
        return int(params.get("max_tokens", DEFAULT_MAX_TOKENS[mode]))
    except (TypeError, ValueError):
        return DEFAULT_MAX_TOKENS[mode]
