"""The prompt a local model reads, and the tokens its verdict is read from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.judging.types import ShownVerdict

SHOWN: tuple[ShownVerdict, ShownVerdict, ShownVerdict] = ("first", "second", "tie")
# What the judge writes for each shown verdict right after the answer prefix, per output mode:
# verdict mode asks for [[A]]/[[B]]/[[C]]; reasoned mode's JSON uses "A"/"B"/"tie". Reasoned
# mode here reads the verdict value directly (no rationale is generated).
DEFAULT_PREFIX: dict[str, str] = {"verdict": "[[", "reasoned": '{"verdict": "'}
DEFAULT_WORDS: dict[str, tuple[str, str, str]] = {
    "verdict": ("A", "B", "C"),
    "reasoned": ("A", "B", "tie"),
}


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]], answer_prefix: str) -> str:
    """The prompt text: the chat template with a generation prompt, then ``answer_prefix``.

    A template that refuses a system role (some do) gets the system text merged into the first
    user message instead. Without a template the contents are joined by blank lines.
    """
    chat = [dict(m) for m in messages]
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        except Exception:  # the template's own error type (jinja2) varies
            merged = _merge_system(chat)
            text = tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        return str(text) + answer_prefix
    return "\n\n".join(m.get("content", "") for m in chat) + "\n\n" + answer_prefix


def _merge_system(chat: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in chat if m.get("role") == "system")
    rest = [m for m in chat if m.get("role") != "system"]
    if system and rest:
        rest[0] = {**rest[0], "content": system + "\n\n" + rest[0]["content"]}
    return rest


def verdict_token_ids(tokenizer: Any, answer_prefix: str, words: Sequence[str]) -> tuple[int, ...]:
    """The id of the token each verdict word starts with, right after ``answer_prefix``.

    Found by tokenising the prefix with and without the word, so tokenizers that mark word
    starts (``▁A``, ``ĠA``) are handled. Raises ``ValueError`` when the word merges into the
    prefix's tokens or two words share a first token: a different ``answer_prefix`` is needed.
    """
    base = tokenizer(answer_prefix, add_special_tokens=False)["input_ids"]
    ids: list[int] = []
    for word in words:
        full = tokenizer(answer_prefix + word, add_special_tokens=False)["input_ids"]
        if len(full) <= len(base) or full[: len(base)] != base:
            raise ValueError(
                f"{word!r} is not a separate token after {answer_prefix!r} for this tokenizer"
            )
        ids.append(int(full[len(base)]))
    if len(set(ids)) != len(ids):
        raise ValueError(f"verdict words {list(words)} share a first token")
    return tuple(ids)
