"""Splitting a rubric edit into hunks and rebuilding rubrics from any subset of them."""

from __future__ import annotations

import itertools

import pytest

from apps.forensics.hunks import apply_hunks, split_hunks, split_sentences
from apps.rubrics.spec import CriterionSpec, RubricSpec, content_hash

A = CriterionSpec("a", "Accuracy", "Correct facts.", 2.0)
B = CriterionSpec("b", "Brevity", "Be brief.", 1.0)
C = CriterionSpec("c", "Care", "Refuse harm.", 3.0, kind="hard_rule")
D = CriterionSpec("d", "Depth", "Detailed answers.", 1.0)

OLD = RubricSpec(
    instructions="Compare the answers. Be fair.\nIgnore length.",
    criteria=(A, B, C),
)
NEW = RubricSpec(
    instructions="Compare the answers. Be strict and fair.\nIgnore length. Prefer sources.",
    criteria=(
        CriterionSpec("c", "Care", "Refuse clear harm only.", 3.0, kind="hard_rule"),
        A,
        D,
        CriterionSpec("b", "Brevity", "Be brief.", 0.5),
    ),
    output_format="reasoned",
)


def test_sentences_join_back_to_the_text() -> None:
    text = "One. Two!  Three?\n\nFour without end"
    assert "".join(split_sentences(text)) == text
    assert [p for p in split_sentences(text) if p.strip()] == [
        "One.",
        "Two!",
        "Three?",
        "Four without end",
    ]


def test_every_kind_of_change_is_its_own_hunk() -> None:
    kinds = sorted(h.kind for h in split_hunks(OLD, NEW))
    assert kinds == sorted(
        [
            "added",
            "reworded",
            "reweighted",
            "reordered",
            "instructions",
            "instructions",
            "output_format",
        ]
    )
    added = next(h for h in split_hunks(OLD, NEW) if h.kind == "added")
    assert added.id == "criterion:added:d" and added.label == "Depth: Detailed answers."
    assert split_hunks(OLD, OLD) == []


def test_no_hunk_gives_the_old_rubric_and_all_hunks_the_new_one() -> None:
    ids = [h.id for h in split_hunks(OLD, NEW)]
    assert content_hash(apply_hunks(OLD, NEW, [])) == content_hash(OLD)
    assert content_hash(apply_hunks(OLD, NEW, ids)) == content_hash(NEW)
    # The reverse edit too: removals and the old order come back.
    back = [h.id for h in split_hunks(NEW, OLD)]
    assert content_hash(apply_hunks(NEW, OLD, back)) == content_hash(OLD)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_each_subset_sits_between_the_two_versions(size: int) -> None:
    hunks = split_hunks(OLD, NEW)
    assert len(hunks) == 7
    for subset in itertools.combinations([h.id for h in hunks], size):
        built = apply_hunks(OLD, NEW, subset)
        # The rebuilt rubric is the old one plus exactly ``size`` hunks, and the new one minus
        # the others.
        assert len(split_hunks(OLD, built)) == size
        assert len(split_hunks(built, NEW)) == len(hunks) - size
        kinds = sorted(h.kind for h in hunks if h.id in subset)
        assert sorted(h.kind for h in split_hunks(OLD, built)) == kinds


def test_added_and_removed_criteria_keep_their_neighbours() -> None:
    old = RubricSpec(criteria=(A, B, C))
    new = RubricSpec(criteria=(A, D, C))
    hunks = {h.kind: h.id for h in split_hunks(old, new)}
    assert set(hunks) == {"added", "removed"}
    only_add = apply_hunks(old, new, [hunks["added"]])
    assert [c.key for c in only_add.criteria] == ["a", "d", "b", "c"]
    only_remove = apply_hunks(old, new, [hunks["removed"]])
    assert [c.key for c in only_remove.criteria] == ["a", "c"]
