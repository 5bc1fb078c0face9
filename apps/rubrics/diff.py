"""Structured diff between two rubric versions, with word-level text diffs.

Criteria are matched by their stable ``key``. Text fields (instructions, template, criterion
titles and descriptions) get a word-level diff as a list of ops that render both sides exactly:
the old side is the ``old`` text of ``equal``/``delete``/``replace`` ops, the new side the ``new``
text of ``equal``/``insert``/``replace`` ops.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from apps.rubrics.spec import CriterionSpec, RubricSpec

OpName = Literal["equal", "insert", "delete", "replace"]

# Words, runs of whitespace and single punctuation marks: joined back they give the text
# exactly, and a change of punctuation or spacing does not mark the neighbouring word changed.
_TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]")
_WORD_RE = re.compile(r"\S+")

# Above this many token comparisons (old tokens x new tokens) a word-level SequenceMatcher
# without its popularity heuristic can take seconds, so the diff goes line by line first and
# word by word only inside changed line blocks.
WORD_DIFF_BUDGET = 4_000_000
# Texts longer than this (both together, in characters) skip word tokenising of the whole text.
LARGE_TEXT_CHARS = 500_000
# Changed lines (both sides together) past which line matching is skipped; see ``_diff_lines``.
MAX_DIFF_LINES = 100_000

# A segment is an (old, new) pair of texts: equal when the two are the same string, a change
# otherwise. Neighbouring segments always alternate between the two sorts.
_Segment = tuple[str, str]


# The longest unchanged run (in words) that the clean-up may fold into the changes around it.
SMALL_EQUALITY_WORDS = 3

# How many reweighted criteria the one-line summary names before it just counts the rest.
_SUMMARY_WEIGHTS = 3


@dataclass(frozen=True)
class TextOp:
    """One step of a text diff; for ``equal`` ops ``old == new``."""

    op: OpName
    old: str
    new: str


@dataclass(frozen=True)
class TextDiff:
    """A word-level diff of one text field."""

    ops: tuple[TextOp, ...]

    @property
    def changed(self) -> bool:
        """Whether the two texts differ."""
        return any(op.op != "equal" for op in self.ops)

    @property
    def old_text(self) -> str:
        """The old text, rebuilt from the ops."""
        return "".join(op.old for op in self.ops)

    @property
    def new_text(self) -> str:
        """The new text, rebuilt from the ops."""
        return "".join(op.new for op in self.ops)

    @property
    def words_inserted(self) -> int:
        """Whitespace-separated words on the new side of the changes."""
        return sum(len(_WORD_RE.findall(op.new)) for op in self.ops if op.op != "equal")

    @property
    def words_deleted(self) -> int:
        """Whitespace-separated words on the old side of the changes."""
        return sum(len(_WORD_RE.findall(op.old)) for op in self.ops if op.op != "equal")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the ops and the word counts."""
        return {
            "ops": [asdict(op) for op in self.ops],
            "words_inserted": self.words_inserted,
            "words_deleted": self.words_deleted,
        }


@dataclass(frozen=True)
class ValueChange:
    """A non-text field that changed (kind, check, output format)."""

    old: Any
    new: Any


@dataclass(frozen=True)
class CriterionRef:
    """A criterion added or removed, with its position (0-based) in its own version."""

    key: str
    title: str
    position: int


@dataclass(frozen=True)
class CriterionMove:
    """A criterion whose place relative to the other kept criteria changed."""

    key: str
    title: str
    old_position: int
    new_position: int


@dataclass(frozen=True)
class WeightChange:
    """A criterion whose weight changed."""

    key: str
    title: str
    old: float
    new: float


@dataclass(frozen=True)
class CriterionChange:
    """A kept criterion whose title, description, kind or check changed (``None``: unchanged)."""

    key: str
    title: str
    title_diff: TextDiff | None = None
    description_diff: TextDiff | None = None
    kind: ValueChange | None = None
    check: ValueChange | None = None

    @property
    def fields(self) -> list[str]:
        """Names of the fields that changed, in a fixed order."""
        present = {
            "title": self.title_diff,
            "description": self.description_diff,
            "kind": self.kind,
            "check": self.check,
        }
        return [name for name, value in present.items() if value is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the changed field names."""
        return {
            "key": self.key,
            "title": self.title,
            "fields": self.fields,
            "title_diff": self.title_diff.to_dict() if self.title_diff else None,
            "description_diff": (
                self.description_diff.to_dict() if self.description_diff else None
            ),
            "kind": asdict(self.kind) if self.kind else None,
            "check": asdict(self.check) if self.check else None,
        }


@dataclass(frozen=True)
class RubricDiff:
    """Everything that differs between two versions; lists follow the versions' order."""

    added: tuple[CriterionRef, ...] = ()
    removed: tuple[CriterionRef, ...] = ()
    moved: tuple[CriterionMove, ...] = ()
    reweighted: tuple[WeightChange, ...] = ()
    changed: tuple[CriterionChange, ...] = ()
    instructions: TextDiff | None = None
    template: TextDiff | None = None
    output_format: ValueChange | None = None

    @property
    def identical(self) -> bool:
        """Whether the two versions have the same content."""
        parts = (self.added, self.removed, self.moved, self.reweighted, self.changed)
        texts = (self.instructions, self.template, self.output_format)
        return not any(parts) and all(text is None for text in texts)

    @property
    def summary(self) -> str:
        """One line such as ``2 criteria changed, 1 added, weight of Safety 0.3 -> 0.5``."""
        return summarize(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the whole diff, with ``summary`` and ``identical``."""
        return {
            "summary": self.summary,
            "identical": self.identical,
            "added": [asdict(c) for c in self.added],
            "removed": [asdict(c) for c in self.removed],
            "moved": [asdict(c) for c in self.moved],
            "reweighted": [asdict(c) for c in self.reweighted],
            "changed": [c.to_dict() for c in self.changed],
            "instructions": self.instructions.to_dict() if self.instructions else None,
            "template": self.template.to_dict() if self.template else None,
            "output_format": asdict(self.output_format) if self.output_format else None,
        }


NO_CHANGES = "no changes"


# --- rubric diff -------------------------------------------------------------------------------


def diff_rubrics(old: RubricSpec, new: RubricSpec) -> RubricDiff:
    """The structured diff from ``old`` to ``new``; criteria are matched by ``key``.

    Raises ``ValueError`` when a version repeats a key, since matching would be ambiguous.
    """
    old_by_key = _index_by_key(old.criteria, "old")
    new_by_key = _index_by_key(new.criteria, "new")
    kept = [key for key in new_by_key if key in old_by_key]
    return RubricDiff(
        added=tuple(
            CriterionRef(c.key, c.title, pos)
            for key, (pos, c) in new_by_key.items()
            if key not in old_by_key
        ),
        removed=tuple(
            CriterionRef(c.key, c.title, pos)
            for key, (pos, c) in old_by_key.items()
            if key not in new_by_key
        ),
        moved=_moved(old.criteria, new.criteria, old_by_key, new_by_key),
        reweighted=tuple(
            WeightChange(key, new_by_key[key][1].title, old_w, new_w)
            for key in kept
            if (old_w := float(old_by_key[key][1].weight))
            != (new_w := float(new_by_key[key][1].weight))
        ),
        changed=tuple(
            change
            for key in kept
            if (change := _criterion_change(old_by_key[key][1], new_by_key[key][1])) is not None
        ),
        instructions=_text_change(old.instructions, new.instructions),
        template=_text_change(old.template, new.template),
        output_format=(
            ValueChange(old.output_format, new.output_format)
            if old.output_format != new.output_format
            else None
        ),
    )


def _index_by_key(
    criteria: Sequence[CriterionSpec], side: str
) -> dict[str, tuple[int, CriterionSpec]]:
    """Criteria by key with their positions, in order; rejects repeated keys."""
    index: dict[str, tuple[int, CriterionSpec]] = {}
    for position, criterion in enumerate(criteria):
        if criterion.key in index:
            raise ValueError(f"the {side} version repeats the criterion key {criterion.key!r}")
        index[criterion.key] = (position, criterion)
    return index


def _moved(
    old: Sequence[CriterionSpec],
    new: Sequence[CriterionSpec],
    old_by_key: dict[str, tuple[int, CriterionSpec]],
    new_by_key: dict[str, tuple[int, CriterionSpec]],
) -> tuple[CriterionMove, ...]:
    """Kept criteria outside the longest common ordering of kept keys.

    Comparing raw positions would call every criterion after an insertion "moved"; matching the
    order of the kept keys flags only those that really changed place among the others.
    """
    old_keys = [c.key for c in old if c.key in new_by_key]
    new_keys = [c.key for c in new if c.key in old_by_key]
    matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    in_place = {
        key
        for block in matcher.get_matching_blocks()
        for key in old_keys[block.a : block.a + block.size]
    }
    return tuple(
        CriterionMove(key, new_by_key[key][1].title, old_by_key[key][0], new_by_key[key][0])
        for key in new_keys
        if key not in in_place
    )


def _criterion_change(old: CriterionSpec, new: CriterionSpec) -> CriterionChange | None:
    """The non-weight changes of a kept criterion, or ``None`` when there are none."""
    change = CriterionChange(
        key=new.key,
        title=new.title,
        title_diff=_text_change(old.title, new.title),
        description_diff=_text_change(old.description, new.description),
        kind=ValueChange(old.kind, new.kind) if old.kind != new.kind else None,
        check=ValueChange(old.check, new.check) if old.check != new.check else None,
    )
    return change if change.fields else None


def _text_change(old: str, new: str) -> TextDiff | None:
    """A word diff when the texts differ, else ``None``."""
    return diff_words(old, new) if old != new else None


# --- summary -----------------------------------------------------------------------------------


def summarize(diff: RubricDiff) -> str:
    """One human line describing ``diff``; ``no changes`` when there is nothing."""
    parts = _count_parts(diff) + _weight_parts(diff.reweighted)
    for name, text in (("instructions", diff.instructions), ("template", diff.template)):
        if text is not None:
            parts.append(f"{name} changed (+{text.words_inserted}/-{text.words_deleted} words)")
    if diff.output_format is not None:
        parts.append(f"output format {diff.output_format.old} -> {diff.output_format.new}")
    return ", ".join(parts) if parts else NO_CHANGES


def _count_parts(diff: RubricDiff) -> list[str]:
    """``2 criteria changed, 1 added``: the first count names the noun, the others reuse it."""
    counts = [
        (len(diff.changed), "changed"),
        (len(diff.added), "added"),
        (len(diff.removed), "removed"),
        (len(diff.moved), "moved"),
    ]
    parts: list[str] = []
    for count, verb in counts:
        if not count:
            continue
        noun = "" if parts else (" criterion" if count == 1 else " criteria")
        parts.append(f"{count}{noun} {verb}")
    return parts


def _weight_parts(reweighted: Sequence[WeightChange]) -> list[str]:
    """``weight of Safety 0.3 -> 0.5`` for the first few, then a count of the rest."""
    parts = [f"weight of {w.title} {w.old:g} -> {w.new:g}" for w in reweighted[:_SUMMARY_WEIGHTS]]
    rest = len(reweighted) - _SUMMARY_WEIGHTS
    if rest > 0:
        parts.append(f"{rest} more reweighted")
    return parts


# --- word diff ---------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Split into words, whitespace runs and punctuation marks; ``"".join`` gives ``text``."""
    return _TOKEN_RE.findall(text)


def diff_words(old: str, new: str) -> TextDiff:
    """Word-level diff of two texts, cleaned up for reading (see ``_merge_small_equalities``).

    Long texts are compared line by line first, and word by word inside changed lines.
    """
    if old == new:
        return TextDiff((TextOp("equal", old, new),) if old else ())
    if len(old) + len(new) > LARGE_TEXT_CHARS:
        raw = _diff_lines(old, new)
    else:
        raw = _diff_tokens(tokenize(old), tokenize(new))
    segments: list[_Segment] = []
    for old_part, new_part in raw:
        _push(segments, old_part, new_part)
    return TextDiff(tuple(_to_op(old_part, new_part) for old_part, new_part in segments))


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the common prefix of two sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _trim(old: list[str], new: list[str]) -> tuple[int, int]:
    """Lengths of the common head and tail (not overlapping), which need no matching."""
    head = _common_prefix(old, new)
    tail = _common_prefix(old[head:][::-1], new[head:][::-1])
    return head, tail


def _diff_tokens(old: list[str], new: list[str]) -> list[_Segment]:
    """Segments for two token lists: word level when affordable, else lines first."""
    head, tail = _trim(old, new)
    old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
    prefix, suffix = "".join(old[:head]), "".join(old[len(old) - tail :])
    if len(old_mid) * len(new_mid) <= WORD_DIFF_BUDGET:
        middle = _match_segments(old_mid, new_mid, word_level=True)
    else:
        middle = _diff_lines("".join(old_mid), "".join(new_mid))
    return [(prefix, prefix), *middle, (suffix, suffix)]


def _diff_lines(old: str, new: str) -> list[_Segment]:
    """Line-level matching, refined word by word inside each changed block that is small enough.

    Past ``MAX_DIFF_LINES`` changed lines even difflib's line matching takes seconds, so the
    whole changed middle is shown as one replacement.
    """
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    head, tail = _trim(old_lines, new_lines)
    old_mid = old_lines[head : len(old_lines) - tail]
    new_mid = new_lines[head : len(new_lines) - tail]
    prefix, suffix = "".join(old_lines[:head]), "".join(old_lines[len(old_lines) - tail :])
    if len(old_mid) + len(new_mid) > MAX_DIFF_LINES:
        return [(prefix, prefix), ("".join(old_mid), "".join(new_mid)), (suffix, suffix)]
    segments: list[_Segment] = [(prefix, prefix)]
    for old_part, new_part in _match_segments(old_mid, new_mid, word_level=False):
        segments.extend(_refine(old_part, new_part))
    segments.append((suffix, suffix))
    return segments


def _refine(old: str, new: str) -> list[_Segment]:
    """Word-level segments of a changed line block, or the block whole when too large."""
    if old == new or not old or not new:
        return [(old, new)]
    old_tokens, new_tokens = tokenize(old), tokenize(new)
    head, tail = _trim(old_tokens, new_tokens)
    old_mid = old_tokens[head : len(old_tokens) - tail]
    new_mid = new_tokens[head : len(new_tokens) - tail]
    prefix = "".join(old_tokens[:head])
    suffix = "".join(old_tokens[len(old_tokens) - tail :])
    if len(old_mid) * len(new_mid) > WORD_DIFF_BUDGET:
        return [(prefix, prefix), ("".join(old_mid), "".join(new_mid)), (suffix, suffix)]
    middle = _match_segments(old_mid, new_mid, word_level=True)
    return [(prefix, prefix), *middle, (suffix, suffix)]


def _match_segments(old: list[str], new: list[str], *, word_level: bool) -> list[_Segment]:
    """SequenceMatcher opcodes as (old, new) text segments.

    Word level: whitespace is junk (it may extend a match but never anchor one, or every space
    would match every space) and autojunk is off, since on a few thousand tokens it would also
    ignore frequent real words such as "the" or "response". Line level keeps difflib's defaults.
    """
    matcher = difflib.SequenceMatcher(
        str.isspace if word_level else None, old, new, autojunk=not word_level
    )
    return [
        ("".join(old[i1:i2]), "".join(new[j1:j2])) for _, i1, i2, j1, j2 in matcher.get_opcodes()
    ]


def _push(segments: list[_Segment], old: str, new: str) -> None:
    """Append a segment, joining it to a previous one of the same sort, then tidy the tail."""
    if not old and not new:
        return
    if segments and _is_equal(segments[-1]) == (old == new):
        prev_old, prev_new = segments.pop()
        old, new = prev_old + old, prev_new + new
    segments.append((old, new))
    _merge_small_equalities(segments)


def _is_equal(segment: _Segment) -> bool:
    return segment[0] == segment[1]


def _merge_small_equalities(segments: list[_Segment]) -> None:
    """Fold an equal run squeezed between two larger changes into one change.

    difflib has no readability clean-up; a rewrite matched on scattered words ("the", "and")
    reads as confetti. The rule follows diff-match-patch's semantic clean-up, made stricter so
    unchanged connectives and sentences stay visible: an equality goes when it is shorter than
    two thirds of the larger side of the change on each of its sides and has at most
    ``SMALL_EQUALITY_WORDS`` words.
    Segments alternate equal/change and this runs after each push, so only the tail can newly
    qualify.
    """
    while len(segments) >= 3:
        before, middle, after = segments[-3:]
        if _is_equal(before) or not _is_equal(middle) or _is_equal(after):
            return
        # Compared at 3:2 so "brief and very" -> "thorough and" keeps its unchanged "and".
        size = 3 * len(middle[0])
        if size >= 2 * max(map(len, before)) or size >= 2 * max(map(len, after)):
            return
        if len(_WORD_RE.findall(middle[0])) > SMALL_EQUALITY_WORDS:
            return
        del segments[-3:]
        segments.append((before[0] + middle[0] + after[0], before[1] + middle[1] + after[1]))


def _to_op(old: str, new: str) -> TextOp:
    if old == new:
        return TextOp("equal", old, new)
    if not old:
        return TextOp("insert", "", new)
    if not new:
        return TextOp("delete", old, "")
    return TextOp("replace", old, new)
