"""A rubric edit split into hunks, and rubrics rebuilt with any subset of them applied.

Pure code on ``RubricSpec``: the diff comes from ``apps.rubrics.diff`` (criteria matched by
key), and each change a reviewer would name on its own becomes a hunk: a criterion added,
removed, reweighted or reworded (title, description, kind or check), a sentence of the
instructions or of the template added, removed or changed, the criteria reordered, the output
format changed.

``apply_hunks(old, new, ids)`` builds the rubric that has exactly the hunks ``ids`` applied to
``old``: no hunk gives ``old``, every hunk gives ``new`` (same content hash), and "the candidate
with hunk h reverted" is every hunk but h. Sentences are matched with difflib, the same library
the diff uses, so a hunk of text is a run of whole sentences.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from apps.rubrics.diff import diff_rubrics
from apps.rubrics.spec import CriterionSpec, RubricSpec

# A sentence ends at . ! or ? followed by whitespace, or at a line break.
_BOUNDARY_RE = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")

# Hunk kinds, in the order a list of hunks shows them.
ADDED = "added"
REMOVED = "removed"
REWORDED = "reworded"
REWEIGHTED = "reweighted"
REORDERED = "reordered"
INSTRUCTIONS = "instructions"
TEMPLATE = "template"
OUTPUT_FORMAT = "output_format"

ORDER_ID = "order"
OUTPUT_FORMAT_ID = "output_format"


@dataclass(frozen=True)
class Hunk:
    """One separable change of a rubric edit.

    ``id`` is stable for a given pair of versions (``criterion:added:<key>``,
    ``instructions:<n>``...); ``label`` is how a reviewer reads it (the new text of the change,
    or the old one for a removal); ``old`` and ``new`` are the two sides shown beside each other.
    """

    id: str
    kind: str
    label: str
    old: str = ""
    new: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def split_sentences(text: str) -> list[str]:
    """Sentences and the whitespace between them as separate pieces; ``"".join`` gives
    ``text`` back.

    Keeping the whitespace apart means a sentence that gains a neighbour ("Ignore length." ->
    "Ignore length. Prefer sources.") still matches itself, so only the new sentence is a hunk.
    """
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        if match.start() > start:
            pieces.append(text[start : match.start()])
        pieces.append(match.group())
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _text_opcodes(old: str, new: str) -> list[tuple[str, int, int, int, int]]:
    # Whitespace pieces are junk: they may extend a match of sentences but never anchor one.
    matcher = difflib.SequenceMatcher(
        str.isspace, split_sentences(old), split_sentences(new), autojunk=False
    )
    return [(str(tag), i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes()]


def _text_hunks(field: str, old: str, new: str) -> list[Hunk]:
    if old == new:
        return []
    old_s, new_s = split_sentences(old), split_sentences(new)
    hunks = []
    for index, (tag, i1, i2, j1, j2) in enumerate(_text_opcodes(old, new)):
        if tag == "equal":
            continue
        before, after = "".join(old_s[i1:i2]).strip(), "".join(new_s[j1:j2]).strip()
        if after:
            label = after
        elif before:
            label = f"(removed) {before}"
        else:
            label = "(spacing between sentences)"
        hunks.append(Hunk(id=f"{field}:{index}", kind=field, label=label, old=before, new=after))
    return hunks


def _apply_text(old: str, new: str, field: str, applied: Collection[str]) -> str:
    if old == new:
        return old
    old_s, new_s = split_sentences(old), split_sentences(new)
    parts: list[str] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(_text_opcodes(old, new)):
        if tag != "equal" and f"{field}:{index}" in applied:
            parts.extend(new_s[j1:j2])
        else:
            parts.extend(old_s[i1:i2])
    return "".join(parts)


def _criterion_text(criterion: CriterionSpec) -> str:
    if criterion.description.strip():
        return f"{criterion.title}: {criterion.description.strip()}"
    return criterion.title


def _criterion_summary(criterion: CriterionSpec) -> str:
    kind = "hard rule" if criterion.kind == "hard_rule" else "principle"
    return f"{_criterion_text(criterion)} (weight {criterion.weight:g}, {kind})"


def split_hunks(old: RubricSpec, new: RubricSpec) -> list[Hunk]:
    """The hunks of the edit from ``old`` to ``new`` (empty when the contents are equal).

    Raises ``ValueError`` when a version repeats a criterion key (as ``diff_rubrics`` does).
    """
    diff = diff_rubrics(old, new)
    old_by_key = {c.key: c for c in old.criteria}
    new_by_key = {c.key: c for c in new.criteria}
    hunks: list[Hunk] = []
    for ref in diff.added:
        criterion = new_by_key[ref.key]
        hunks.append(
            Hunk(
                id=f"criterion:added:{ref.key}",
                kind=ADDED,
                label=_criterion_text(criterion),
                new=_criterion_summary(criterion),
            )
        )
    for ref in diff.removed:
        criterion = old_by_key[ref.key]
        hunks.append(
            Hunk(
                id=f"criterion:removed:{ref.key}",
                kind=REMOVED,
                label=f"(removed) {_criterion_text(criterion)}",
                old=_criterion_summary(criterion),
            )
        )
    for change in diff.changed:
        before, after = old_by_key[change.key], new_by_key[change.key]
        hunks.append(
            Hunk(
                id=f"criterion:reworded:{change.key}",
                kind=REWORDED,
                label=_criterion_text(after),
                old=_criterion_summary(before),
                new=_criterion_summary(after),
            )
        )
    for weight in diff.reweighted:
        hunks.append(
            Hunk(
                id=f"criterion:reweighted:{weight.key}",
                kind=REWEIGHTED,
                label=f"weight of {weight.title} {weight.old:g} -> {weight.new:g}",
                old=f"{weight.old:g}",
                new=f"{weight.new:g}",
            )
        )
    if diff.moved:
        hunks.append(
            Hunk(
                id=ORDER_ID,
                kind=REORDERED,
                label="criteria reordered: " + ", ".join(m.title for m in diff.moved),
                old=", ".join(c.key for c in old.criteria if c.key in new_by_key),
                new=", ".join(c.key for c in new.criteria if c.key in old_by_key),
            )
        )
    hunks.extend(_text_hunks(INSTRUCTIONS, old.instructions, new.instructions))
    hunks.extend(_text_hunks(TEMPLATE, old.template, new.template))
    if diff.output_format is not None:
        hunks.append(
            Hunk(
                id=OUTPUT_FORMAT_ID,
                kind=OUTPUT_FORMAT,
                label=f"output format {old.output_format} -> {new.output_format}",
                old=old.output_format,
                new=new.output_format,
            )
        )
    return hunks


def _insert_after_predecessor(order: list[str], key: str, sequence: Sequence[str]) -> None:
    """Insert ``key`` right after the nearest key before it in ``sequence`` already in ``order``."""
    position = 0
    for earlier in reversed(sequence[: sequence.index(key)]):
        if earlier in order:
            position = order.index(earlier) + 1
            break
    order.insert(position, key)


def apply_hunks(old: RubricSpec, new: RubricSpec, applied: Collection[str]) -> RubricSpec:
    """``old`` with exactly the hunks whose ids are in ``applied`` taken from ``new``.

    Unknown ids are ignored. Criteria keep the order of the side their ordering comes from
    (``new``'s when the reorder hunk is applied, else ``old``'s); an added criterion is placed
    after its predecessor in ``new``, a kept removed one after its predecessor in ``old``.
    """
    applied = set(applied)
    old_by_key = {c.key: c for c in old.criteria}
    new_by_key = {c.key: c for c in new.criteria}
    old_keys = [c.key for c in old.criteria]
    new_keys = [c.key for c in new.criteria]
    source = new_keys if ORDER_ID in applied else old_keys
    order = [key for key in source if key in old_by_key and key in new_by_key]
    for key in old_keys:
        if key not in new_by_key and f"criterion:removed:{key}" not in applied:
            _insert_after_predecessor(order, key, old_keys)
    for key in new_keys:
        if key not in old_by_key and f"criterion:added:{key}" in applied:
            _insert_after_predecessor(order, key, new_keys)

    criteria: list[CriterionSpec] = []
    for key in order:
        if key not in new_by_key:
            criteria.append(old_by_key[key])
            continue
        if key not in old_by_key:
            criteria.append(new_by_key[key])
            continue
        before, after = old_by_key[key], new_by_key[key]
        built = before
        if f"criterion:reworded:{key}" in applied:
            built = replace(
                built,
                title=after.title,
                description=after.description,
                kind=after.kind,
                check=after.check,
            )
        if f"criterion:reweighted:{key}" in applied:
            built = replace(built, weight=after.weight)
        criteria.append(built)
    return RubricSpec(
        instructions=_apply_text(old.instructions, new.instructions, INSTRUCTIONS, applied),
        criteria=tuple(criteria),
        template=_apply_text(old.template, new.template, TEMPLATE, applied),
        output_format=new.output_format if OUTPUT_FORMAT_ID in applied else old.output_format,
    )
