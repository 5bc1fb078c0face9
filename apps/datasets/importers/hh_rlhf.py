"""Anthropic HH-RLHF: one JSON object a line, ``{"chosen": str, "rejected": str}``.

Each field is a whole dialogue, ``"\\n\\nHuman: ...\\n\\nAssistant: ..."``; the two share the
conversation and differ in the final assistant turn. Mapping:

* ``prompt``: the shared conversation, up to the last ``\\n\\nAssistant:`` that lies inside the
  text the two dialogues have in common (trimmed). Using the *shared* text rather than each
  dialogue's own last marker matters: in a few published rows a final turn itself contains
  ``\\n\\nAssistant:``, and splitting each dialogue at its own last marker would give two
  different prompts. ``metadata["turns"]`` lists the prompt's turns as ``{role, text}`` with
  role ``human`` or ``assistant``, for display.
* ``response_a`` / ``response_b``: the two final assistant turns (trimmed). The preferred one is
  always ``chosen``, so its position is a coin flip per pair, reproducible from the ``seed``
  option and the pair's texts (SHA-256), which balances the gold labels: ``gold_label`` is
  ``A`` or ``B`` wherever ``chosen`` landed. There are no ties. The content hash ignores the
  positions, so a re-import with another seed adds nothing.
* ``domain``: the ``domain`` option; else from the file name (``harmless``/``red-team`` ->
  ``harmlessness``, ``helpful`` -> ``helpfulness``); else ``general``.
* ``external_id``: an ``id`` field where the file has one (the published files have none), else
  the line number.
* A final turn may be empty: the published test sets hold a few rows where the assistant said
  nothing, and that is still a real preference (for harmlessness, saying nothing is often the
  preferred side). Rows whose two final turns are identical are skipped (no preference).

Problems: a dialogue without an assistant turn, dialogues that differ before their last
assistant turn, and a conversation with nothing before that turn. The file may be gzip-compressed
(the published files are ``.jsonl.gz``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath
from typing import Any

from apps.datasets.importers.base import (
    JsonLinesImporter,
    Label,
    PairRecord,
    RowReader,
    Skipped,
    make_record,
    require_object,
)
from apps.datasets.importers.mapping import native_id_of

ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")


def domain_from_name(name: str | None) -> str | None:
    """The domain an HH-RLHF file name implies (``helpful-base_test.jsonl.gz`` -> helpfulness)."""
    if not name:
        return None
    stem = PurePath(name).name.lower()
    if "harmless" in stem or "red-team" in stem or "red_team" in stem:
        return "harmlessness"
    if "helpful" in stem:
        return "helpfulness"
    return None


def common_prefix_length(left: str, right: str) -> int:
    """Length of the longest common prefix of two strings."""
    # Compare in blocks first: slice comparison runs in C, so long shared transcripts cost little.
    limit = min(len(left), len(right))
    index = 0
    block = 256
    while index + block <= limit and left[index : index + block] == right[index : index + block]:
        index += block
    while index < limit and left[index] == right[index]:
        index += 1
    return index


def split_turns(transcript: str) -> list[dict[str, str]]:
    """The turns of a transcript, as ``[{"role": "human" | "assistant", "text": ...}, ...]``."""
    pieces = _TURN.split("\n\n" + transcript)
    turns: list[dict[str, str]] = []
    if pieces[0].strip():
        turns.append({"role": "text", "text": pieces[0].strip()})
    for role, text in zip(pieces[1::2], pieces[2::2], strict=True):
        turns.append({"role": role.lower(), "text": text.strip()})
    return turns


def chosen_goes_first(seed: int, prompt: str, chosen: str, rejected: str) -> bool:
    """The reproducible coin flip: does ``chosen`` take position A for this pair and seed?"""
    digest = hashlib.sha256()
    for part in (str(seed), prompt, chosen, rejected):
        encoded = part.encode("utf-8", errors="surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.digest()[0] < 128


class HhRlhfImporter(JsonLinesImporter):
    """HH-RLHF chosen/rejected dialogues, split into a prompt and two coin-flipped responses."""

    format = "hh-rlhf"

    def record(self, line: int, row: Any) -> PairRecord | Skipped:
        """Split the two dialogues and place ``chosen`` by the coin flip."""
        row = require_object(row)
        reader = RowReader(row, self.options)
        chosen = reader.text("chosen")
        rejected = reader.text("rejected")
        reader.check()

        shared = common_prefix_length(chosen, rejected)
        cut = chosen.rfind(ASSISTANT, 0, shared)
        if cut < 0:
            for name, text in (("chosen", chosen), ("rejected", rejected)):
                if ASSISTANT not in text:
                    reader.fail(name, f"field {name} has no assistant turn ('\\n\\nAssistant:')")
            if not reader.problems:
                reader.fail(
                    "rejected",
                    "chosen and rejected differ before their last assistant turn "
                    f"(first difference at character {shared + 1:,})",
                )
            reader.check()
        prompt = chosen[:cut].strip()
        if not prompt:
            reader.fail("chosen", "field chosen has no conversation before its assistant turn")
        chosen_reply = chosen[cut + len(ASSISTANT) :].strip()
        rejected_reply = rejected[cut + len(ASSISTANT) :].strip()
        reader.check()

        gold_label: Label = "A"
        response_a, response_b = chosen_reply, rejected_reply
        if not chosen_goes_first(self.options.seed, prompt, chosen_reply, rejected_reply):
            gold_label = "B"
            response_a, response_b = rejected_reply, chosen_reply
        extra = {k: v for k, v in row.items() if k not in ("chosen", "rejected", "id")}
        metadata = {**extra, "source_format": self.format, "turns": split_turns(prompt)}
        return make_record(
            reader,
            line=line,
            prompt=prompt,
            response_a=response_a,
            response_b=response_b,
            domain=reader.domain(None, domain_from_name(self.options.source_name)),
            gold_label=gold_label,
            metadata=reader.metadata(metadata),
            native_id=native_id_of(reader, "id", row.get("id")),
            positions_from_source=False,
        )
