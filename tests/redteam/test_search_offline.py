"""The search with the offline judge and the deterministic editor, run in-process."""

from __future__ import annotations

from typing import Any

import pytest

from apps.redteam import services
from apps.redteam.models import Candidate, JobStatus, PairVerdict
from tests.judging.factories import make_judge
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
