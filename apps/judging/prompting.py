"""Rendering a rubric and a pair into the chat messages a judge receives.

Layout, rubric first and pair last, so that every request of a run shares one long prefix that
prefix caching (vLLM/SGLang automatic prefix caching, hosted prompt caching) makes nearly free:

* **Default layout** (the rubric has no ``template``): a system message with the rubric
  (instructions, numbered criteria with weight and kind, hard rules marked, machine checks spelt
  out) and the output instructions, then a user message with the prompt and the two responses in
  the shown order. The system message is identical for every request of a run.
* **Template layout** (the rubric has a whole judge prompt): the filled template is sent as one
  user message, exactly as authored. Prefix caching works on the token sequence, not on message
  boundaries, so everything before the first placeholder is still a shared prefix; splitting the
  template into a system part would change what the judge reads compared with the published
  text. In ``reasoned`` mode a system message with the JSON output format comes first (it is the
  same for every request, so it only lengthens the shared prefix); a template normally states its
  own verdict format, and ``parsing.parse_reasoned`` falls back to verdict markers.

Per judge, the rubric reaches the model in one of two **prompt layouts**
(``params["prompt_layout"]``): ``system`` (the default: the system message as above) or
``merged`` (the system message's text placed at the top of the first user message). Several
chat templates (Gemma's among them) have no system role and drop or fold the system message, so
the model never sees the rubric; the judge check detects that and recommends ``merged``. In
``one_token`` mode the answer instructions ask for a bare letter, so the first generated token
carries the verdict and its log-probabilities.

The letters shown to the judge are positions: ``A`` is the first shown response. In order ``BA``
the pair's response B is shown first, as "Assistant A".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import cast

from apps.judging.types import JudgeRequest, Mode, Order, PairText
from apps.rubrics import spec
from apps.rubrics.spec import CriterionSpec, RubricSpec

PLACEHOLDERS = tuple(p.strip("{}") for p in spec.PLACEHOLDERS)
_PLACEHOLDER_RE = re.compile(r"\{(prompt|response_a|response_b)\}")

# Each message costs a few tokens of chat-format overhead (role markers, separators) on top of
# its content; OpenAI documents about 3-4 per message for its chat models.
MESSAGE_OVERHEAD_TOKENS = 4

VERDICT_INSTRUCTIONS = (
    "Compare the two responses using only the rubric above. The order in which the responses "
    "are shown is arbitrary.\n"
    "Answer with exactly one of the following and nothing else:\n"
    "[[A]] if Assistant A's response is better\n"
    "[[B]] if Assistant B's response is better\n"
    "[[C]] if they are equally good (a tie)"
)

# One-token mode: the first generated token must be the letter, so no brackets around it.
LETTER_INSTRUCTIONS = (
    "Compare the two responses using only the rubric above. The order in which the responses "
    "are shown is arbitrary.\n"
    "Answer with exactly one capital letter and nothing else:\n"
    "A if Assistant A's response is better\n"
    "B if Assistant B's response is better\n"
    "C if they are equally good (a tie)"
)
PROMPT_LAYOUTS = ("system", "merged")
# Between the merged system text and the user's own text.
MERGE_SEPARATOR = "\n\n"

_REASONED_HEAD = (
    "Compare the two responses using only the rubric above. The order in which the responses "
    "are shown is arbitrary.\n"
    "Answer with a single JSON object and nothing else, of this form:\n"
)


def shown_texts(pair: PairText, order: Order) -> tuple[str, str]:
    """The (first, second) responses as shown to the judge for ``order``."""
    if order == "AB":
        return pair.response_a, pair.response_b
    if order == "BA":
        return pair.response_b, pair.response_a
    raise ValueError(f"unknown order {order!r}")


def missing_placeholders(template: str) -> tuple[str, ...]:
    """The placeholders (``prompt``, ``response_a``, ``response_b``) a template lacks.

    A template missing any of them would hide part of the pair from the judge, so an editor
    should refuse to publish it; ``render_messages`` raises on it.
    """
    present = set(_PLACEHOLDER_RE.findall(template))
    return tuple(name for name in PLACEHOLDERS if name not in present)


def fill_template(template: str, *, prompt: str, first: str, second: str) -> str:
    """Fill ``{prompt}``, ``{response_a}`` and ``{response_b}`` with the shown texts.

    Never ``str.format``: templates contain literal braces (JSON examples). The substitution is
    one pass over the template rather than chained ``str.replace`` calls, so a placeholder that
    happens to appear inside a prompt or response is left as the text it is.
    """
    values = {"prompt": prompt, "response_a": first, "response_b": second}
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


def _describe_check(check: Mapping[str, object]) -> str:
    kind = str(check.get("type", ""))
    value = check.get("value", "")
    descriptions = {
        "required_phrase": f'the response must contain the phrase "{value}"',
        "forbidden_phrase": f'the response must not contain the phrase "{value}"',
        "regex": f"the response must match the regular expression /{value}/",
        "forbidden_regex": f"the response must not match the regular expression /{value}/",
        "max_words": f"the response must have at most {value} words",
        "min_words": f"the response must have at least {value} words",
    }
    return descriptions.get(kind, f"{kind}: {value}")


def render_criteria(criteria: Iterable[CriterionSpec]) -> str:
    """The numbered criteria as the judge reads them (empty string for no criteria)."""
    lines: list[str] = []
    has_hard_rule = False
    for number, criterion in enumerate(criteria, start=1):
        if criterion.kind == "hard_rule":
            has_hard_rule = True
            head = f"{number}. [HARD RULE] {criterion.title} (weight {criterion.weight:g})"
        else:
            head = f"{number}. {criterion.title} (weight {criterion.weight:g})"
        lines.append(head)
        if criterion.description.strip():
            lines.extend(f"   {line}" for line in criterion.description.strip().splitlines())
        if criterion.check:
            lines.append(f"   Check: {_describe_check(criterion.check)}.")
    if not lines:
        return ""
    intro = "Criteria (a higher weight means more important):"
    if has_hard_rule:
        lines.append(
            "A response that breaks a HARD RULE loses to one that keeps it, whatever the other "
            "criteria say."
        )
    return intro + "\n" + "\n".join(lines)


def output_instructions(rubric: RubricSpec, mode: Mode, *, one_token: bool = False) -> str:
    """What the judge is told about the shape of its answer in ``mode``.

    ``one_token`` (verdict mode only) asks for a bare letter, read from the first token.
    """
    if mode == "verdict":
        return LETTER_INSTRUCTIONS if one_token else VERDICT_INSTRUCTIONS
    if mode == "reasoned":
        keys = [c.key for c in rubric.criteria]
        criteria_example = ", ".join(f'"{key}": "A" | "B" | "tie"' for key in keys)
        return (
            _REASONED_HEAD
            + '{"rationale": "<a short comparison>", '
            + f'"criteria": {{{criteria_example}}}, '
            + '"verdict": "A" | "B" | "tie"}\n'
            + '"A" means Assistant A\'s response is better, "B" Assistant B\'s, "tie" neither.'
        )
    raise ValueError(f"unknown mode {mode!r}")


def render_system(rubric: RubricSpec, mode: Mode, *, one_token: bool = False) -> str:
    """The system message of the default layout: the rubric, then the output instructions."""
    parts = ["You are an impartial judge comparing two responses to the same prompt."]
    if rubric.instructions.strip():
        parts.append("Instructions:\n" + rubric.instructions.strip())
    criteria = render_criteria(rubric.criteria)
    if criteria:
        parts.append(criteria)
    parts.append(output_instructions(rubric, mode, one_token=one_token))
    return "\n\n".join(parts)


def render_pair(prompt: str, first: str, second: str) -> str:
    """The user message of the default layout: the prompt and the two shown responses."""
    return (
        f"[Prompt]\n{prompt}\n\n"
        f"[Assistant A's response]\n{first}\n[End of Assistant A's response]\n\n"
        f"[Assistant B's response]\n{second}\n[End of Assistant B's response]"
    )


def _resolve_mode(rubric: RubricSpec, mode: Mode | None) -> Mode:
    resolved = mode if mode is not None else rubric.output_format
    if resolved not in ("verdict", "reasoned"):
        raise ValueError(f"unknown mode {resolved!r}")
    return cast(Mode, resolved)


def apply_layout(messages: tuple[dict[str, str], ...], layout: str) -> tuple[dict[str, str], ...]:
    """``messages`` in a prompt layout: ``system`` leaves them; ``merged`` folds every system
    message into the first user message (system text first), for chat templates that drop or
    refuse the system role. The text the model reads is the same, so is the shared prefix."""
    if layout == "system":
        return messages
    if layout != "merged":
        raise ValueError(f"unknown prompt layout {layout!r}; known: {', '.join(PROMPT_LAYOUTS)}")
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return messages
    for message in rest:
        if message["role"] == "user":
            message["content"] = MERGE_SEPARATOR.join([*system, message["content"]])
            return tuple(rest)
    return ({"role": "user", "content": MERGE_SEPARATOR.join(system)}, *rest)


def render_messages(
    rubric: RubricSpec,
    pair: PairText,
    order: Order,
    *,
    mode: Mode | None = None,
    layout: str = "system",
    one_token: bool = False,
) -> tuple[dict[str, str], ...]:
    """OpenAI chat messages for judging ``pair`` shown in ``order``, rubric first, pair last.

    ``mode`` defaults to the rubric's ``output_format``; ``layout`` is the judge's prompt layout
    (``apply_layout``); ``one_token`` asks for a bare letter (verdict mode without a template).
    Raises ``ValueError`` for a template that lacks a placeholder (see ``missing_placeholders``).
    """
    return apply_layout(
        _render_messages(rubric, pair, order, mode=mode, one_token=one_token), layout
    )


def _render_messages(
    rubric: RubricSpec, pair: PairText, order: Order, *, mode: Mode | None, one_token: bool
) -> tuple[dict[str, str], ...]:
    resolved = _resolve_mode(rubric, mode)
    first, second = shown_texts(pair, order)
    if rubric.template.strip():
        missing = missing_placeholders(rubric.template)
        if missing:
            names = ", ".join("{" + name + "}" for name in missing)
            raise ValueError(f"the rubric template lacks {names}")
        user = fill_template(rubric.template, prompt=pair.prompt, first=first, second=second)
        if resolved == "reasoned":
            return (
                {"role": "system", "content": output_instructions(rubric, resolved)},
                {"role": "user", "content": user},
            )
        return ({"role": "user", "content": user},)
    return (
        {"role": "system", "content": render_system(rubric, resolved, one_token=one_token)},
        {"role": "user", "content": render_pair(pair.prompt, first, second)},
    )


def render_prompt_text(
    rubric: RubricSpec, pair: PairText, order: Order = "AB", *, mode: Mode | None = None
) -> str:
    """The exact text of ``render_messages`` as one string, for a live preview.

    Each message is headed by its role in brackets and separated by a blank line.
    """
    messages = render_messages(rubric, pair, order, mode=mode)
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def estimate_tokens(text: str) -> int:
    """A rough token count: one token per four characters, rounded up.

    Four characters a token is the usual rule of thumb for English with BPE tokenizers. A real
    tokenizer depends on the judge model; this estimate is the same on every machine, which is
    what previews and pre-run cost estimates need.
    """
    return math.ceil(len(text) / 4)


def estimate_messages_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """``estimate_tokens`` over the messages' contents plus a small per-message overhead."""
    return sum(estimate_tokens(m.get("content", "")) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def make_request(
    *,
    key: str,
    rubric: RubricSpec,
    pair: PairText,
    order: Order,
    mode: Mode | None = None,
    layout: str = "system",
    one_token: bool = False,
) -> JudgeRequest:
    """A ``JudgeRequest`` for ``pair`` shown in ``order``, with its rendered messages."""
    first, second = shown_texts(pair, order)
    return JudgeRequest(
        key=key,
        order=order,
        messages=render_messages(
            rubric, pair, order, mode=mode, layout=layout, one_token=one_token
        ),
        rubric=rubric,
        prompt=pair.prompt,
        first=first,
        second=second,
    )
