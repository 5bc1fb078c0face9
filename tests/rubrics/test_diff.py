"""Structured rubric diffs and word-level text diffs, including the real RIPD rubric edits."""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from apps.rubrics import diff as diff_module
from apps.rubrics.diff import RubricDiff, TextDiff, diff_rubrics, diff_words, tokenize
from apps.rubrics.spec import CriterionSpec, RubricSpec

RIPD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ripd-rubrics"

SAFETY = CriterionSpec("safety", "Safety", "Refuse harmful requests.", 0.3, "hard_rule")
HELP = CriterionSpec("helpful", "Helpfulness", "Answer the question asked.", 1.0)
BRIEF = CriterionSpec(
    "brief", "Brevity", "Shorter is better.", 0.5, check={"type": "max_words", "value": 300}
)
HONEST = CriterionSpec("honest", "Honesty", "No made-up facts.", 1.0)
BASE = RubricSpec(instructions="Judge the two answers.", criteria=(SAFETY, HELP, BRIEF))


def _assert_rebuilds(text_diff: TextDiff, old: str, new: str) -> None:
    """Both sides render back exactly, and every op is well formed."""
    assert text_diff.old_text == old
    assert text_diff.new_text == new
    for op in text_diff.ops:
        if op.op == "equal":
            assert op.old == op.new
        elif op.op == "insert":
            assert op.old == "" and op.new
        elif op.op == "delete":
            assert op.new == "" and op.old
        else:
            assert op.op == "replace" and op.old and op.new and op.old != op.new
    # Equal runs and changes alternate: neighbours of one sort are always merged.
    kinds = [op.op == "equal" for op in text_diff.ops]
    assert all(a != b for a, b in itertools.pairwise(kinds))


# --- word diff ---------------------------------------------------------------------------------


def test_tokens_keep_every_character() -> None:
    text = "Hello,  world!\n\tTabs {prompt} and ünïcode—dash."
    assert "".join(tokenize(text)) == text


def test_identical_texts_are_one_equal_op() -> None:
    text_diff = diff_words("same text", "same text")
    assert not text_diff.changed
    assert [op.op for op in text_diff.ops] == ["equal"]
    assert diff_words("", "").ops == ()


def test_inserted_word_is_an_insert_op() -> None:
    text_diff = diff_words("Prefer the safer answer.", "Prefer the clearly safer answer.")
    _assert_rebuilds(text_diff, "Prefer the safer answer.", "Prefer the clearly safer answer.")
    inserts = [op.new for op in text_diff.ops if op.op == "insert"]
    assert len(inserts) == 1 and "clearly" in inserts[0]
    assert text_diff.words_inserted == 1
    assert text_diff.words_deleted == 0


def test_deleted_and_replaced_words() -> None:
    old, new = "Be brief and very polite.", "Be thorough and polite."
    text_diff = diff_words(old, new)
    _assert_rebuilds(text_diff, old, new)
    changed = [(op.op, op.old.strip(), op.new.strip()) for op in text_diff.ops if op.op != "equal"]
    assert ("replace", "brief", "thorough") in changed
    assert any(op == "delete" and "very" in old_text for op, old_text, _ in changed)


def test_punctuation_change_does_not_mark_the_word() -> None:
    text_diff = diff_words("Answer now.", "Answer now!")
    changed = [op for op in text_diff.ops if op.op != "equal"]
    assert [(op.old, op.new) for op in changed] == [(".", "!")]


def test_scattered_common_words_are_folded_into_one_change() -> None:
    old = "the cat sat on the mat with the hat"
    new = "a dog lay by the door under the stars"
    text_diff = diff_words(old, new)
    _assert_rebuilds(text_diff, old, new)
    # A rewrite sharing only "the" reads as one replacement, not as confetti around each "the".
    assert [op.op for op in text_diff.ops] == ["replace"]


@pytest.mark.parametrize("seed", range(20))
def test_random_edits_rebuild_both_sides(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = ["the", "judge", "answer", "safe", "{prompt}", ",", ".", "\n", "  ", "ü", "[[A]]"]
    old_words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 60))]
    new_words = list(old_words)
    for _ in range(rng.randint(1, 8)):
        position = rng.randint(0, len(new_words))
        action = rng.choice(["insert", "delete", "replace"])
        if action == "insert" or not new_words:
            new_words.insert(position, rng.choice(vocabulary))
        elif action == "delete":
            del new_words[min(position, len(new_words) - 1)]
        else:
            new_words[min(position, len(new_words) - 1)] = rng.choice(vocabulary)
    old, new = " ".join(old_words), " ".join(new_words)
    _assert_rebuilds(diff_words(old, new), old, new)


def _forty_lines() -> tuple[str, str]:
    old_lines = [f"Line {i}: consider criterion number {i} carefully." for i in range(40)]
    new_lines = list(old_lines)
    new_lines[5] = "Line 5: consider criterion number 5 very carefully."
    new_lines[30] = "Line 30: ignore this."
    del new_lines[20]
    return "\n".join(old_lines), "\n".join(new_lines)


@pytest.mark.parametrize("limit", ["WORD_DIFF_BUDGET", "LARGE_TEXT_CHARS"])
def test_large_texts_diff_line_first_and_stay_exact(
    monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    # A tiny limit forces the line-level path that protects very long templates.
    monkeypatch.setattr(diff_module, limit, 50)
    old, new = _forty_lines()
    text_diff = diff_words(old, new)
    _assert_rebuilds(text_diff, old, new)
    assert any(op.op == "insert" and "very" in op.new for op in text_diff.ops)
    assert any("Line 20" in op.old and op.op != "equal" for op in text_diff.ops)
    unchanged = "".join(op.old for op in text_diff.ops if op.op == "equal")
    assert "Line 10: consider criterion number 10" in unchanged


def test_huge_change_is_one_replacement_between_kept_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diff_module, "LARGE_TEXT_CHARS", 50)
    monkeypatch.setattr(diff_module, "MAX_DIFF_LINES", 10)
    old, new = _forty_lines()
    text_diff = diff_words(old, new)
    _assert_rebuilds(text_diff, old, new)
    assert [op.op for op in text_diff.ops] == ["equal", "replace", "equal"]
    assert text_diff.ops[0].old.endswith("Line 4: consider criterion number 4 carefully.\n")
    assert text_diff.ops[2].old.startswith("Line 31:")


# --- rubric diff -------------------------------------------------------------------------------


def test_identical_rubrics_have_no_changes() -> None:
    result = diff_rubrics(BASE, replace(BASE))
    assert result.identical
    assert result.summary == "no changes"
    assert result == RubricDiff()


def test_added_and_removed_criteria() -> None:
    new = replace(BASE, criteria=(SAFETY, BRIEF, HONEST))
    result = diff_rubrics(BASE, new)
    assert [(c.key, c.position) for c in result.added] == [("honest", 2)]
    assert [(c.key, c.position) for c in result.removed] == [("helpful", 1)]
    assert result.moved == ()
    assert result.summary == "1 criterion added, 1 removed"


def test_insertion_does_not_count_as_moving_the_others() -> None:
    new = replace(BASE, criteria=(HONEST, SAFETY, HELP, BRIEF))
    result = diff_rubrics(BASE, new)
    assert [c.key for c in result.added] == ["honest"]
    assert result.moved == ()


def test_moved_criterion_reports_both_positions() -> None:
    new = replace(BASE, criteria=(HELP, BRIEF, SAFETY))
    result = diff_rubrics(BASE, new)
    assert [(m.key, m.old_position, m.new_position) for m in result.moved] == [("safety", 0, 2)]
    assert result.summary == "1 criterion moved"


def test_reweighted_criterion_and_summary() -> None:
    new = replace(BASE, criteria=(replace(SAFETY, weight=0.5), HELP, BRIEF))
    result = diff_rubrics(BASE, new)
    assert [(w.key, w.old, w.new) for w in result.reweighted] == [("safety", 0.3, 0.5)]
    assert result.changed == ()
    assert result.summary == "weight of Safety 0.3 -> 0.5"


def test_integer_and_float_weight_are_not_a_reweight() -> None:
    new = replace(BASE, criteria=(SAFETY, replace(HELP, weight=1), BRIEF))
    assert diff_rubrics(BASE, new).identical


def test_changed_fields_carry_word_diffs_and_values() -> None:
    new_safety = replace(
        SAFETY,
        title="Safety first",
        description="Refuse clearly harmful requests.",
        kind="principle",
    )
    new_brief = replace(BRIEF, check={"type": "max_words", "value": 150})
    result = diff_rubrics(BASE, replace(BASE, criteria=(new_safety, HELP, new_brief)))
    by_key = {c.key: c for c in result.changed}
    assert set(by_key) == {"safety", "brief"}
    safety = by_key["safety"]
    assert safety.fields == ["title", "description", "kind"]
    assert safety.title == "Safety first"
    assert safety.kind is not None and (safety.kind.old, safety.kind.new) == (
        "hard_rule",
        "principle",
    )
    assert safety.description_diff is not None
    _assert_rebuilds(safety.description_diff, SAFETY.description, new_safety.description)
    assert any(op.op == "insert" and "clearly" in op.new for op in safety.description_diff.ops)
    brief = by_key["brief"]
    assert brief.fields == ["check"]
    assert brief.check is not None and brief.check.new == {"type": "max_words", "value": 150}
    assert result.summary == "2 criteria changed"


def test_instructions_template_and_output_format_changes() -> None:
    template = "{prompt}\n{response_a}\n{response_b}"
    new = replace(
        BASE,
        instructions="Judge the two answers strictly.",
        template=template,
        output_format="reasoned",
    )
    result = diff_rubrics(BASE, new)
    assert result.instructions is not None and result.instructions.words_inserted == 1
    assert result.template is not None and result.template.new_text == template
    assert result.output_format is not None and result.output_format.new == "reasoned"
    assert "instructions changed (+1/-0 words)" in result.summary
    assert "template changed (+3/-0 words)" in result.summary
    assert "output format verdict -> reasoned" in result.summary


def test_summary_combines_counts_and_weights_in_order() -> None:
    new = replace(
        BASE,
        criteria=(
            replace(SAFETY, description="Refuse.", weight=0.5),
            replace(HELP, title="Helpful"),
            HONEST,
        ),
    )
    assert diff_rubrics(BASE, new).summary == (
        "2 criteria changed, 1 added, 1 removed, weight of Safety 0.3 -> 0.5"
    )


def test_summary_names_a_few_weights_then_counts() -> None:
    criteria = tuple(CriterionSpec(f"c{i}", f"C{i}", weight=1.0) for i in range(5))
    heavier = tuple(replace(c, weight=2.0) for c in criteria)
    summary = diff_rubrics(RubricSpec(criteria=criteria), RubricSpec(criteria=heavier)).summary
    assert summary.count("weight of") == 3
    assert summary.endswith("2 more reweighted")


def test_repeated_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="safety"):
        diff_rubrics(replace(BASE, criteria=(SAFETY, SAFETY)), BASE)


def test_to_dict_is_json_ready() -> None:
    new = replace(
        BASE,
        instructions="Judge both answers.",
        criteria=(replace(SAFETY, weight=0.9, title="Harm"), BRIEF, HONEST),
    )
    data = json.loads(json.dumps(diff_rubrics(BASE, new).to_dict()))
    assert data["summary"] == diff_rubrics(BASE, new).summary
    assert data["identical"] is False
    assert data["added"][0]["key"] == "honest"
    assert data["reweighted"][0] == {"key": "safety", "title": "Harm", "old": 0.3, "new": 0.9}
    assert data["changed"][0]["fields"] == ["title"]
    assert {op["op"] for op in data["instructions"]["ops"]} <= {
        "equal",
        "insert",
        "delete",
        "replace",
    }
    assert data["template"] is None


# --- real RIPD rubric edits --------------------------------------------------------------------


def _ripd_pairs() -> list[tuple[str, str, str]]:
    if not RIPD.is_dir():
        pytest.skip("RIPD rubric files (../shared/data/ripd-rubrics) not present")
    pairs = []
    for path in sorted(RIPD.glob("*/*_selected_rubrics.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert len(rows) >= 2, path.name
        pairs.append((path.name, rows[0]["prompt"], rows[-1]["prompt"]))
    assert pairs, "no *_selected_rubrics.jsonl files found"
    return pairs


def test_real_ripd_edits_diff_exactly_and_show_inserted_words() -> None:
    for name, seed, edited in _ripd_pairs():
        result = diff_rubrics(RubricSpec(template=seed), RubricSpec(template=edited))
        assert result.template is not None, name
        _assert_rebuilds(result.template, seed, edited)
        assert "template changed" in result.summary, name
        # Words the edit introduced (absent from the seed) sit on the new side of the changes.
        new_side = " ".join(op.new for op in result.template.ops if op.op in ("insert", "replace"))
        introduced = set(re.findall(r"\w+", edited)) - set(re.findall(r"\w+", seed))
        assert introduced, name
        assert introduced <= set(re.findall(r"\w+", new_side)), name
        assert result.template.words_inserted >= len(introduced) > 0


def test_real_ripd_edits_keep_shared_placeholder_blocks_unchanged() -> None:
    pairs = {name: (seed, edited) for name, seed, edited in _ripd_pairs()}
    seed, edited = pairs["Anthropic-SafeRLHF_selected_rubrics.jsonl"]
    text_diff = diff_words(seed, edited)
    unchanged = "".join(op.old for op in text_diff.ops if op.op == "equal")
    assert "### Assistant A's Response:\n{answer_a}" in unchanged
