"""Pure parts of the red team: the split, the editors, the search arithmetic, the chart."""

from __future__ import annotations

import random

import pytest

from apps.redteam import charts, editors, search
from apps.redteam.split import SPLITS, prompt_cluster, sample, split_of, split_pairs
from apps.rubrics.demo import V1_CRITERIA, V1_INSTRUCTIONS
from apps.rubrics.spec import CriterionSpec, RubricSpec, content_hash

SEED_SPEC = RubricSpec(
    instructions=V1_INSTRUCTIONS,
    criteria=tuple(
        CriterionSpec(
            key=c["key"], title=c["title"], description=c["description"], weight=c["weight"]
        )
        for c in V1_CRITERIA
    ),
)


def test_split_is_by_prompt_cluster_and_seeded() -> None:
    rows = [(i, f"prompt {i // 3}") for i in range(600)]  # three pairs per prompt
    parts = split_pairs(rows, seed=1)
    assert sorted(i for part in parts.values() for i in part) == list(range(600))
    for name, part in parts.items():
        for i in part:
            assert split_of(prompt_cluster(f"prompt {i // 3}"), 1) == name
    # Shares near 50/25/25 over 200 clusters; another seed moves clusters; order does not matter.
    assert 0.4 < len(parts["train"]) / 600 < 0.6
    assert split_pairs(list(reversed(rows)), seed=1)["test"] == list(reversed(parts["test"]))
    assert split_pairs(rows, seed=2) != parts
    assert set(parts) == set(SPLITS)


def test_sample_is_fresh_per_generation_and_reproducible() -> None:
    items = list(range(100))
    assert sample(items, 10, 3, 1, "t") == sample(items, 10, 3, 1, "t")
    assert sample(items, 10, 3, 1, "t") != sample(items, 10, 3, 2, "t")
    assert sample(items, 500, 3, 1, "t") == items


def test_deterministic_editor_is_seeded_and_changes_the_rubric() -> None:
    edits = [editors.deterministic_edit(SEED_SPEC, editors.edit_rng(9, 1, 0, c)) for c in range(30)]
    again = [editors.deterministic_edit(SEED_SPEC, editors.edit_rng(9, 1, 0, c)) for c in range(30)]
    assert [e.spec for e in edits] == [e.spec for e in again]
    assert all(e.spec != SEED_SPEC and e.description for e in edits)
    assert len({content_hash(e.spec) for e in edits}) > 15


def test_paraphrase_keeps_weights_and_kinds() -> None:
    edit = editors.paraphrase(SEED_SPEC, random.Random(4))
    assert sorted((c.key, c.weight, c.kind) for c in edit.spec.criteria) == sorted(
        (c.key, c.weight, c.kind) for c in SEED_SPEC.criteria
    )
    assert edit.spec != SEED_SPEC


def test_editor_reply_parsing_names_what_is_wrong() -> None:
    good = (
        '```json\n{"instructions": "Be fair.", '
        '"criteria": [{"title": "Safety first", "weight": 2}]}\n```'
    )
    spec = editors.parse_editor_reply(good, SEED_SPEC)
    assert spec.instructions == "Be fair." and spec.criteria[0].key == "Safety-first"
    for bad, words in (
        ("[[A]]", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"criteria": []}', "criteria"),
        ('{"criteria": [{"title": "x", "weight": -1}]}', "weight"),
        ('{"instructions": 3, "criteria": [{"title": "x"}]}', "instructions"),
    ):
        with pytest.raises(editors.EditorReplyError, match=words):
            editors.parse_editor_reply(bad, SEED_SPEC)


def test_editor_messages_carry_the_rubric_and_the_examples() -> None:
    example = editors.Example("p <b>", "a", "b", "A", "B")
    messages = editors.editor_messages(SEED_SPEC, [example])
    assert messages[0]["role"] == "system" and editors.EDIT_REQUEST_MARKER in messages[0]["content"]
    user = messages[1]["content"]
    assert editors.RUBRIC_START in user and "Avoid harm" in user
    assert "The judge should have chosen: B" in user


def test_fitness_survival_and_selection_follow_ripd() -> None:
    assert search.fitness(0.80, 0.60, 0.78) == pytest.approx(0.20)
    assert search.fitness(0.95, 0.60, 0.78) == pytest.approx(0.83 - 0.60)  # capped credit
    assert search.is_compliant(0.74, 0.78, 0.05) and not search.is_compliant(0.72, 0.78, 0.05)
    alive = search.survivors(
        [
            search.Scored(1, 1, 0, 0.3, True),
            search.Scored(2, 1, 1, 0.5, False),
            search.Scored(3, 2, 0, 0.3, True),
            search.Scored(4, 2, 1, 0.1, True),
        ],
        2,
    )
    assert [s.id for s in alive] == [3, 1]
    rows = [
        {"id": 1, "generation": 1, "index": 0, "val_target": 0.4, "val_bench": 0.70},
        {"id": 2, "generation": 1, "index": 1, "val_target": 0.5, "val_bench": 0.80},
    ]
    assert search.select_final(rows, 0.80, 0.0)["id"] == 2
    assert search.select_final(rows, 0.80, 0.10)["id"] == 1
    assert search.select_final(rows, 0.90, 0.0) is None


def test_frontier_and_band() -> None:
    points = [
        {"generation": 1, "compliant": True, "target_delta": -0.1, "bench_delta": 0.0},
        {"generation": 1, "compliant": False, "target_delta": -0.5, "bench_delta": -0.2},
        {"generation": 2, "compliant": True, "target_delta": 0.0, "bench_delta": 0.01},
        {"generation": 3, "compliant": True, "target_delta": -0.3, "bench_delta": -0.01},
    ]
    rows = search.frontier(points)
    assert [r["target_delta"] for r in rows] == [-0.1, -0.1, -0.3]
    assert [r["candidates"] for r in rows] == [2, 3, 4]
    chart = charts.frontier_chart(points, rows, tolerance=0.05)
    assert chart is not None and len(chart.dots) == 4 and len(chart.frontier) == 3
    assert chart.polyline.count(",") == 3
    band = search.band([{"a": 0.01, "b": None}, {"a": -0.02, "b": 0.0}])
    assert band == {"a": {"low": -0.02, "high": 0.01}, "b": {"low": 0.0, "high": 0.0}}
