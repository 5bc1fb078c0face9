"""Rubric or judge? The pure comparison of what a drift report's two runs recorded of their
judge (``apps.drift.judge_question``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apps.drift.judge_question import (
    HELD,
    MOVED,
    UNKNOWN,
    RunJudge,
    identity_changes,
    judge_question,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STATE: dict[str, Any] = {
    "backend": "openai",
    "model": "judge-2026-01",
    "base_url": "https://judge.example",
    "params": {"temperature": 0},
}


def run(run_id: int, state: dict[str, Any], *, judge_id: int = 1, hours: int = 0) -> RunJudge:
    return RunJudge(
        run_id=run_id,
        judge_id=judge_id,
        judge_name=f"judge {judge_id}",
        state=state,
        created_at=T0 + timedelta(hours=hours),
    )


def test_the_same_recorded_identity_holds_the_judge_fixed() -> None:
    answer = judge_question(run(1, STATE), run(2, dict(STATE), hours=5), current={}, edited_at=T0)
    assert answer.verdict == HELD and not answer.moved
    assert "held fixed, so the change comes from the rubric" in answer.sentence
    assert answer.changes == []


def test_an_edit_in_place_between_the_runs_moves_the_judge_and_says_what_changed() -> None:
    edited = {**STATE, "model": "judge-2026-03", "params": {"temperature": 0.7, "seed": 3}}
    answer = judge_question(run(1, STATE), run(2, edited, hours=5), current=edited, edited_at=T0)
    assert answer.verdict == MOVED and answer.moved
    assert "edited in place between run #1 and run #2" in answer.sentence
    assert answer.changes == [
        "model: judge-2026-01 → judge-2026-03",
        "seed: (unset) → 3",
        "temperature: 0 → 0.7",
    ]


def test_different_configs_move_the_judge() -> None:
    answer = judge_question(run(1, STATE), run(2, STATE, judge_id=2), current=STATE, edited_at=T0)
    assert answer.verdict == MOVED
    assert "different judge configs (judge 1 and judge 2)" in answer.sentence


def test_a_run_without_a_record_is_the_config_as_it_is_when_not_saved_since() -> None:
    # Made after the config's last save: the config now is what it judged with.
    held = judge_question(run(1, {}, hours=2), run(2, STATE, hours=3), current=STATE, edited_at=T0)
    assert held.verdict == HELD
    edited = {**STATE, "base_url": "https://other.example"}
    moved = judge_question(
        run(1, STATE), run(2, {}, hours=3), current=edited, edited_at=T0 + timedelta(hours=1)
    )
    assert moved.verdict == MOVED
    assert moved.changes == ["base_url: https://judge.example → https://other.example"]


def test_a_run_made_before_the_last_save_without_a_record_is_unknown() -> None:
    answer = judge_question(
        run(1, {}), run(2, STATE, hours=5), current=STATE, edited_at=T0 + timedelta(hours=1)
    )
    assert answer.verdict == UNKNOWN
    assert "Run #1 does not record" in answer.sentence


def test_identity_changes_names_nothing_for_equal_identities() -> None:
    assert identity_changes(STATE, dict(STATE)) == []
    assert identity_changes({}, STATE)[0] == "backend: (unset) → openai"
