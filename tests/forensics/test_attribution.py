"""Clause attribution with the offline judge: the hunk that carries the drift is named."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.core.models import AuditEvent
from apps.forensics import services
from apps.forensics.models import Attribution, JobStatus
from apps.judging.models import CachedJudgment
from tests.factories import make_judge, make_reference_set
from tests.forensics.factories import (
    EDITED_CRITERIA,
    OVERREFUSAL,
    OVERREFUSAL_LABEL,
    Edit,
    drifting_edit,
)


@pytest.fixture
def edit(project: Any) -> Edit:
    judge = make_judge(project, name="Offline judge")
    reference = make_reference_set(project, n_pairs=40)
    return drifting_edit(project, judge, reference)


def _attribute(edit: Edit, actor: Any, **options: Any) -> Attribution:
    job = services.attribution_start(actor=actor, report=edit.report, dispatch=False, **options)
    return services.attribution_execute(attribution_id=job.pk)


def test_the_report_flips_every_harmlessness_pair(edit: Edit) -> None:
    flipped = edit.report.stats["flipped"]
    assert len(flipped) == 20
    assert {f["domain"] for f in flipped} == {"harmlessness"}


def test_attribution_names_the_hunk_that_carries_the_drift(edit: Edit, members: Any) -> None:
    job = _attribute(edit, members["author"])
    assert job.status == JobStatus.READY, job.error
    result = job.result
    rows = {row["id"]: row for row in result["hunks"]}
    assert set(rows) == {
        "criterion:added:overrefusal",
        "criterion:reweighted:relevant",
        "instructions:0",
    }
    assert result["top"] == "criterion:added:overrefusal"
    top = rows["criterion:added:overrefusal"]
    assert top["explained"] == result["n_flips"] == 20
    assert top["reproduced"] == 20  # applied alone to the baseline, it flips them all
    assert top["share"] == 1.0 and top["share_ci"][0] > 0.8
    assert top["p_holm"] < 0.001
    for other in ("criterion:reweighted:relevant", "instructions:0"):
        assert rows[other]["explained"] == 0
        assert rows[other]["p"] == 1.0
    assert result["n_controls"] == 20  # the unflipped helpfulness pairs, all of them
    assert top["control_moved"] == 0
    assert result["headline"] == f"'{OVERREFUSAL_LABEL}' accounts for 20 of 20 flips"
    assert result["interactions"] == []
    assert AuditEvent.objects.filter(action="attribution.ready", object_id=str(job.pk)).exists()


def test_the_full_rubrics_come_from_the_cache_and_a_second_attribution_asks_nothing(
    edit: Edit, members: Any
) -> None:
    pairs = 40  # 20 flips + 20 controls
    first = _attribute(edit, members["author"])
    # The report's runs answered the full baseline and candidate for every pair and order.
    assert first.cache_hits >= 2 * 2 * pairs
    assert first.requests == (2 + 2 * 3) * 2 * pairs
    assert 0 < first.calls <= first.requests - first.cache_hits
    assert first.calls <= first.budget
    stored = CachedJudgment.objects.count()
    second = _attribute(edit, members["author"])
    assert second.calls == 0
    assert second.cache_hits == second.requests == first.requests
    assert CachedJudgment.objects.count() == stored
    assert second.result["hunks"] == first.result["hunks"]


def test_a_budget_too_small_fails_before_asking_the_judge(edit: Edit, members: Any) -> None:
    stored = CachedJudgment.objects.count()
    job = _attribute(edit, members["author"], budget=5)
    assert job.status == JobStatus.FAILED
    assert "the budget is 5" in job.error and "needs" in job.error
    assert job.calls == 0
    assert CachedJudgment.objects.count() == stored


def test_a_job_whose_worker_died_is_taken_again_only_after_the_time_limit(
    edit: Edit, members: Any, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    job = services.attribution_start(actor=members["author"], report=edit.report, dispatch=False)
    Attribution.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    # A redelivered message while another worker may still be on it: nothing happens.
    assert services.attribution_execute(attribution_id=job.pk).status == JobStatus.RUNNING
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    Attribution.objects.filter(pk=job.pk).update(started_at=long_ago)
    assert services.attribution_execute(attribution_id=job.pk).status == JobStatus.READY


def test_control_sample_is_seeded(edit: Edit, members: Any) -> None:
    one = _attribute(edit, members["author"], control_size=5, seed=3)
    two = _attribute(edit, members["author"], control_size=5, seed=3)
    assert one.result["n_controls"] == two.result["n_controls"] == 5
    flipped = {f["pair_id"] for f in edit.report.stats["flipped"]}
    sample = services.control_sample(edit.report, flipped, 5, 3)
    assert sample == services.control_sample(edit.report, flipped, 5, 3)
    assert sample != services.control_sample(edit.report, flipped, 5, 4)
    assert not set(sample) & flipped


def test_two_hunks_needed_together_are_reported_as_an_interaction(
    project: Any, members: Any
) -> None:
    # Two copies of the over-refusal criterion: either one alone still flips the pairs, so no
    # single revert brings a flip back, but reverting both does.
    twin = ("overrefusal2", *OVERREFUSAL[1:])
    judge = make_judge(project, name="Offline judge")
    reference = make_reference_set(project, n_pairs=20)
    edit = drifting_edit(project, judge, reference, criteria=(*EDITED_CRITERIA, twin))
    job = _attribute(edit, members["author"])
    assert job.status == JobStatus.READY, job.error
    assert all(row["explained"] == 0 for row in job.result["hunks"])
    pairs = {tuple(sorted(i["hunks"])): i for i in job.result["interactions"]}
    both = pairs[("criterion:added:overrefusal", "criterion:added:overrefusal2")]
    assert both["explained"] == job.result["n_flips"] == 10
    assert both["gain"] == 10
    assert len(pairs) == 1


def test_refusals(edit: Edit, members: Any, project: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.attribution_start(actor=members["viewer"], report=edit.report, dispatch=False)
    with pytest.raises(ValidationError) as negative:
        services.attribution_start(
            actor=members["author"], report=edit.report, budget=-1, dispatch=False
        )
    assert "budget" in negative.value.message_dict
    same = drifting_edit(
        project,
        edit.judge,
        edit.reference,
        criteria=EDITED_CRITERIA,
        old_criteria=EDITED_CRITERIA,
    )
    with pytest.raises(ValidationError) as nothing:
        services.attribution_start(actor=members["author"], report=same.report, dispatch=False)
    # Same criteria, only the instructions reworded: nothing flips, nothing to attribute.
    assert "no flipped pair" in nothing.value.message_dict["report"][0]


def test_an_alert_that_opens_is_attributed_without_anyone_asking(
    project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    judge = make_judge(project, name="Offline judge")
    with django_capture_on_commit_callbacks(execute=True):
        edit = drifting_edit(project, judge, make_reference_set(project, n_pairs=20))
    assert edit.report.alert is not None
    job = Attribution.objects.get(report=edit.report)
    assert job.status == JobStatus.READY and job.created_by is None
    assert job.result["top"] == "criterion:added:overrefusal"
    started = AuditEvent.objects.get(action="attribution.start", object_id=str(job.pk))
    assert started.actor is None


def test_automatic_attribution_can_be_turned_off(
    project: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.FORENSICS_AUTO_ATTRIBUTE = False
    judge = make_judge(project, name="Offline judge")
    with django_capture_on_commit_callbacks(execute=True):
        edit = drifting_edit(project, judge, make_reference_set(project, n_pairs=20))
    assert edit.report.alert is not None
    assert not Attribution.objects.filter(report=edit.report).exists()
