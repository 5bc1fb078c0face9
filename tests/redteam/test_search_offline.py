"""The search with the offline judge and the deterministic editor, run in-process."""

from __future__ import annotations

from typing import Any

import pytest

from apps.redteam import services
from apps.redteam.models import Candidate, JobStatus, PairVerdict
from tests.factories import make_judge
from tests.redteam.factories import demo_rubric_version, redteam_reference_set

pytestmark = pytest.mark.django_db


def _start(project: Any, actor: Any, **options: Any) -> Any:
    version = demo_rubric_version(project, actor)
    reference = redteam_reference_set(project)
    judge = make_judge(project)
    params = {
        "targets": ["harmlessness"],
        "generations": 4,
        "population": 4,
        "children": 4,
        "sample_size": 120,
        "seed": 7,
        **options,
    }
    return services.redteam_start(
        actor=actor,
        rubric_version=version,
        judge=judge,
        reference_set=reference,
        dispatch=False,
        **params,
    )


def test_deterministic_editor_finds_a_masked_drop_on_test(project: Any, members: Any) -> None:
    job = services.job_execute(job=_start(project, members["admin"]))
    assert job.status == JobStatus.SUCCEEDED, job.error
    test = job.result["test"]
    print(job.result["frontier"], test["target"], test["benchmark"], job.best.edit)
    assert test["target"]["delta"] <= -0.10
    assert test["benchmark"]["delta"] >= -job.selection_tolerance
    assert job.draft_version is not None and not job.draft_version.is_published
    assert job.result["verdict"] == "drifts"
    # Test pairs were judged only by the report: the seed and the picked attack.
    judged_on_test = set(
        PairVerdict.objects.filter(candidate__job=job, split="test").values_list(
            "candidate_id", flat=True
        )
    )
    seed = Candidate.objects.get(job=job, kind="seed")
    assert judged_on_test == {seed.pk, job.best_id}


def _trace(job: Any) -> list[tuple[int, int, str, str, float | None]]:
    return list(
        Candidate.objects.filter(job=job)
        .order_by("kind", "generation", "index")
        .values_list("generation", "index", "kind", "content_hash", "fitness")
    )


def test_same_seed_same_result_and_the_repeat_costs_nothing(project: Any, members: Any) -> None:
    first = services.job_execute(job=_start(project, members["admin"], generations=2))
    second_job = services.redteam_start(
        actor=members["admin"],
        rubric_version=first.rubric_version,
        judge=first.judge,
        reference_set=first.reference_set,
        targets=first.targets,
        generations=2,
        population=first.population,
        children=first.children,
        sample_size=first.sample_size,
        seed=first.seed,
        dispatch=False,
    )
    second = services.job_execute(job=second_job)
    assert second.status == first.status == JobStatus.SUCCEEDED
    assert second.split == first.split
    assert _trace(second) == _trace(first)
    assert second.result["test"] == first.result["test"]
    assert first.judge_calls > 0
    # Every request of the repeat was answered before: all from the judging cache.
    assert second.judge_calls == 0 and second.cached_calls == first.judge_calls + first.cached_calls

    other = services.redteam_start(
        actor=members["admin"],
        rubric_version=first.rubric_version,
        judge=first.judge,
        reference_set=first.reference_set,
        targets=first.targets,
        generations=1,
        seed=first.seed + 1,
        dispatch=False,
    )
    assert other.split != first.split or _trace(services.job_execute(job=other)) != _trace(first)


def test_judge_call_budget_is_honoured(project: Any, members: Any) -> None:
    probe = _start(project, members["admin"])
    reserve = probe.split["reserve_calls"]
    budget = reserve + 2 * 120 * 3  # the seed baseline and about two candidates
    probe.delete()
    job = services.job_execute(
        job=services.redteam_start(
            actor=members["admin"],
            rubric_version=probe.rubric_version,
            judge=probe.judge,
            reference_set=probe.reference_set,
            targets=["harmlessness"],
            sample_size=120,
            generations=4,
            population=4,
            children=4,
            max_judge_calls=budget,
            seed=7,
            dispatch=False,
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.stop_reason == "judge-call budget reached"
    assert 0 < job.judge_calls <= budget
    assert job.candidates < 1 + 4 * 4 * 4


def test_cost_cap_from_the_judge_prices_is_honoured(project: Any, members: Any) -> None:
    version = demo_rubric_version(project, members["admin"])
    reference = redteam_reference_set(project)
    judge = make_judge(project, name="Priced", price_in="2", price_out="4")
    options = {
        "actor": members["admin"],
        "rubric_version": version,
        "judge": judge,
        "reference_set": reference,
        "targets": ["harmlessness"],
        "sample_size": 120,
        "generations": 4,
        "population": 4,
        "seed": 7,
        "dispatch": False,
    }
    from decimal import Decimal

    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as too_small:
        services.redteam_start(cost_cap=Decimal("0.01"), **options)
    assert "cost_cap" in too_small.value.message_dict
    reserve = Decimal(
        services.redteam_start(cost_cap=Decimal("1000"), **options).split["reserve_cost"]
    )
    cap = reserve + Decimal("0.5")
    job = services.job_execute(job=services.redteam_start(cost_cap=cap, **options))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.stop_reason == "cost cap reached"
    assert Decimal(0) < job.cost <= cap


def test_bad_requests_name_the_field(project: Any, members: Any, other_project: Any) -> None:
    from django.core.exceptions import ValidationError

    version = demo_rubric_version(project, members["admin"])
    reference = redteam_reference_set(project, extra=0)
    judge = make_judge(project)
    foreign = make_judge(other_project, name="Elsewhere")
    cases = [
        ({"targets": ["nonsense"]}, "targets"),
        ({"targets": []}, "targets"),
        ({"generations": 0}, "generations"),
        ({"editor": judge}, "editor"),  # the offline judge cannot rewrite rubrics
        ({"editor": foreign}, "editor"),
        ({"max_judge_calls": 10}, "max_judge_calls"),
        ({"cost_cap": 5}, "cost_cap"),  # the judge has no prices
    ]
    for override, field in cases:
        options = {"targets": ["harmlessness"], **override}
        with pytest.raises(ValidationError) as error:
            services.redteam_start(
                actor=None,
                rubric_version=version,
                judge=judge,
                reference_set=reference,
                dispatch=False,
                **options,
            )
        assert field in error.value.message_dict, (override, error.value.message_dict)
