"""Selectors: the rubric list, the version tree, the sample pair and the prompt preview."""

from __future__ import annotations

import pytest

from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet
from apps.judging import preview as judging_preview
from apps.judging.prompting import estimate_tokens
from apps.rubrics import hooks, selectors, services

pytestmark = pytest.mark.django_db


def _pair(dataset: Dataset, n: int, prompt: str) -> Pair:
    return Pair.objects.create(
        dataset=dataset,
        prompt=prompt,
        response_a=f"first answer {n}",
        response_b=f"second answer {n}",
        domain="helpfulness",
        content_hash=f"hash-{dataset.pk}-{n}",
    )


def test_version_tree_puts_forks_under_their_parent(rubric, v1, author) -> None:
    v2 = services.rubric_version_publish(
        actor=author, version=services.rubric_version_fork(actor=author, version=v1), message="2"
    )
    v3 = services.rubric_version_fork(actor=author, version=v2)
    v4 = services.rubric_version_fork(actor=author, version=v1)  # a second branch from v1
    root = services.rubric_version_create(actor=author, rubric=rubric, parent=None)
    services.rubric_label_move(actor=author, rubric=rubric, version=v2, label="production")
    rows = selectors.version_tree(rubric=rubric)
    assert [(r.version.number, r.depth) for r in rows] == [
        (v1.number, 0),
        (v2.number, 1),
        (v3.number, 2),
        (v4.number, 1),
        (root.number, 0),
    ]
    assert rows[1].labels == ["production"]


def test_rubric_rows_show_production_and_no_drift_status_without_the_drift_app(
    project, rubric, v1, draft, members, seams
) -> None:
    services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1)
    empty = services.rubric_create(actor=members["author"], project=project, name="Another")
    rows = {row.rubric.pk: row for row in selectors.rubric_rows(project=project)}
    assert rows[rubric.pk].production == v1
    assert rows[rubric.pk].latest == v1
    assert rows[rubric.pk].gate is None
    assert (rows[rubric.pk].rubric.version_count, rows[rubric.pk].rubric.draft_count) == (2, 1)
    assert rows[empty.pk].production is None
    assert rows[empty.pk].gate is None


def test_rubric_rows_read_the_gate_when_an_app_provides_it(project, rubric, v1, seams) -> None:
    seams.status(lambda version: hooks.VersionGate(words=f"clean v{version.number}", badge="ok"))
    (row,) = selectors.rubric_rows(project=project)
    assert row.gate == hooks.VersionGate(words="clean v1", badge="ok", final=True)


def test_version_panels_are_every_block_an_app_offers_in_order(v1, seams) -> None:
    assert hooks.version_panels(v1) == []
    seams.panel(lambda version: None)  # an app with nothing to show for this version
    seams.panel(lambda version: hooks.VersionPanel("first.html", {"n": version.number}))
    seams.panel(lambda version: hooks.VersionPanel("second.html"))
    panels = hooks.version_panels(v1)
    assert [(p.template, p.context) for p in panels] == [
        ("first.html", {"n": 1}),
        ("second.html", {}),
    ]


def test_sample_pair_falls_back_to_a_built_in_pair(rubric) -> None:
    pair, source = judging_preview.sample_pair(rubric=rubric)
    assert pair == judging_preview.BUILTIN_SAMPLE
    assert "built-in" in source


def test_sample_pair_prefers_the_registered_reference_set(project, rubric, seams) -> None:
    first = Dataset.objects.create(project=project, name="A first")
    second = Dataset.objects.create(project=project, name="B second")
    _pair(first, 1, "dataset prompt")
    guarded = _pair(second, 2, "reference prompt")
    pair, source = judging_preview.sample_pair(rubric=rubric)
    assert pair.prompt == "dataset prompt"
    assert "dataset A first" in source
    reference = ReferenceSet.objects.create(project=project, name="Gold", dataset=second)
    ReferenceItem.objects.create(
        reference_set=reference, pair=guarded, gold_label="A", source="imported"
    )
    seams.sample(lambda asked: reference.pk if asked.pk == rubric.pk else None)
    pair, source = judging_preview.sample_pair(rubric=rubric)
    assert pair.prompt == "reference prompt"
    assert "reference set" in source


def test_sample_pair_never_comes_from_another_project(other_project, rubric) -> None:
    foreign = Dataset.objects.create(project=other_project, name="Theirs")
    _pair(foreign, 1, "secret prompt")
    pair, _ = judging_preview.sample_pair(rubric=rubric)
    assert pair.prompt != "secret prompt"


def test_preview_is_the_judge_prompt_rubric_first_pair_last(v1) -> None:
    preview = selectors.version_preview(version=v1)
    assert not preview.error
    assert preview.tokens == estimate_tokens(preview.text)
    criterion = preview.text.index("Avoid harm")
    prompt = preview.text.index(judging_preview.BUILTIN_SAMPLE.prompt)
    assert criterion < prompt
    # Order BA shows response B first.
    swapped = selectors.version_preview(version=v1, order="BA")
    first_b = swapped.text.index(judging_preview.BUILTIN_SAMPLE.response_b)
    first_a = swapped.text.index(judging_preview.BUILTIN_SAMPLE.response_a)
    assert first_b < first_a


def test_preview_of_a_whole_prompt_template(rubric, author) -> None:
    version = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        parent=None,
        template="Q: {prompt}\nA: {response_a}\nB: {response_b}\nVerdict [[A]] or [[B]].",
    )
    preview = selectors.version_preview(version=version)
    assert preview.text.startswith("[user]\nQ: " + judging_preview.BUILTIN_SAMPLE.prompt)


def test_versions_diff_defaults_to_an_empty_rubric_for_a_root(v1, draft, author) -> None:
    first = selectors.versions_diff(old=None, new=v1)
    assert [c["title"] for c in first["added"]] == ["Avoid harm", "Helpful", "Short"]
    services.criterion_update(
        actor=author, criterion=draft.criteria.get(key="helpful"), revision=draft.revision, weight=4
    )
    diff = selectors.versions_diff(old=selectors.diff_base(version=draft), new=draft)
    assert [(w["old"], w["new"]) for w in diff["reweighted"]] == [(1.5, 4.0)]
    assert "weight of Helpful 1.5 -> 4" in diff["summary"]
