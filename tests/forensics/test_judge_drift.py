"""Judge drift: one rubric under two judges, the 2 x 2, and the guard's check of a new judge."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.core.models import AuditEvent
from apps.forensics import services
from apps.forensics.models import Blame, JobStatus, JudgeDriftKind, JudgeDriftTrigger
from tests.factories import SAFE_CRITERIA, make_judge, make_reference_set
from tests.forensics.factories import EDITED_INSTRUCTIONS, publish


@pytest.fixture
def setting(project: Any) -> dict[str, Any]:
    """Two versions that differ by a reworded instruction the offline judge does not read, an
    unbiased offline judge and one with a strong position bias, and a snapshot."""
    v1 = publish(project, criteria=SAFE_CRITERIA)
    v2 = publish(
        project, rubric=v1.rubric, criteria=SAFE_CRITERIA, instructions=EDITED_INSTRUCTIONS
    )
    return {
        "v1": v1,
        "v2": v2,
        "old": make_judge(project, name="Offline"),
        "biased": make_judge(project, name="Offline, biased", params={"position_bias": 0.6}),
        "reference": make_reference_set(project, n_pairs=40),
    }


def test_the_2x2_blames_the_judge_not_the_rubric(setting: dict[str, Any], members: Any) -> None:
    report = services.judge_drift_start(
        actor=members["author"],
        old_version=setting["v1"],
        new_version=setting["v2"],
        old_judge=setting["old"],
        new_judge=setting["biased"],
        reference_set=setting["reference"],
        execute=True,
    )
    assert report.status == JobStatus.READY, report.error
    assert report.kind == JudgeDriftKind.FACTORIAL
    assert report.blame == Blame.JUDGE
    assert report.headline.startswith("The judge moved the verdicts, not the rubric")
    causes = {flag["cause"] for flag in report.flags}
    assert causes == {"judge"}
    comparisons = report.stats["comparisons"]
    for name in ("rubric_under_old_judge", "rubric_under_new_judge"):
        assert comparisons[name]["overall"]["flips"] == 0
    for name in ("judge_under_old_rubric", "judge_under_new_rubric"):
        overall = comparisons[name]["overall"]
        # Where the responses are closer than the bias (every helpfulness pair), each order
        # prefers the first shown response: the biased judge calls the pair a tie.
        assert comparisons[name]["by_domain"]["helpfulness"]["flips"] == 20
        assert overall["flips"] == 20
        assert overall["delta"] < -0.2
    effects = report.stats["effects"]["overall"]
    assert effects["judge"] < -0.2 and effects["rubric"] == 0.0
    assert set(report.stats["effects"]) == {"overall", "harmlessness", "helpfulness"}
    # Four runs: each version under each judge.
    runs = report.runs()
    assert len({run.pk for run in runs}) == 4
    assert {(r.rubric_version_id, r.judge_id) for r in runs} == {
        (v.pk, j.pk)
        for v in (setting["v1"], setting["v2"])
        for j in (setting["old"], setting["biased"])
    }
    assert report.new_judge_state["params"] == {"position_bias": 0.6}
    assert AuditEvent.objects.filter(action="judge_drift.ready", object_id=str(report.pk)).exists()


def test_a_rubric_edit_alone_is_blamed_on_the_rubric(project: Any, members: Any) -> None:
    from tests.forensics.factories import EDITED_CRITERIA

    v1 = publish(project, criteria=SAFE_CRITERIA)
    v2 = publish(project, rubric=v1.rubric, criteria=EDITED_CRITERIA)
    same_kind = make_judge(project, name="Offline twin", params={"temperature": 0})
    report = services.judge_drift_start(
        actor=members["author"],
        old_version=v1,
        new_version=v2,
        old_judge=make_judge(project, name="Offline"),
        new_judge=same_kind,
        reference_set=make_reference_set(project, n_pairs=40),
        execute=True,
    )
    assert report.blame == Blame.RUBRIC, report.flags
    assert report.headline.startswith("The rubric moved the verdicts, not the judge")


def test_judge_report_with_the_rubric_fixed(setting: dict[str, Any], members: Any) -> None:
    report = services.judge_drift_start(
        actor=members["author"],
        old_version=setting["v1"],
        old_judge=setting["old"],
        new_judge=setting["biased"],
        reference_set=setting["reference"],
        execute=True,
    )
    assert report.kind == JudgeDriftKind.JUDGE
    assert report.run_new_rubric is None and report.run_both is None
    assert report.blame == Blame.JUDGE
    kinds = {flag["kind"] for flag in report.flags}
    assert "aggregate_drop" in kinds
    assert set(report.stats["comparisons"]) == {"judge"}
    assert report.stats["comparisons"]["judge"]["pairs_compared"] == 40


def test_finished_runs_are_reused(setting: dict[str, Any], members: Any) -> None:
    first = services.judge_drift_start(
        actor=members["author"],
        old_version=setting["v1"],
        old_judge=setting["old"],
        new_judge=setting["biased"],
        reference_set=setting["reference"],
        execute=True,
    )
    again = services.judge_drift_start(
        actor=members["author"],
        old_version=setting["v1"],
        new_version=setting["v2"],
        old_judge=setting["old"],
        new_judge=setting["biased"],
        reference_set=setting["reference"],
        execute=True,
    )
    assert again.run_old_id == first.run_old_id
    assert again.run_new_judge_id == first.run_new_judge_id


def test_the_guard_checks_a_new_judge_before_using_it(
    setting: dict[str, Any], members: Any
) -> None:
    rubric = setting["v1"].rubric
    report = services.guard_judge_change_check(
        actor=members["admin"],
        rubric=rubric,
        old_judge=setting["old"],
        new_judge=setting["biased"],
        reference_set=setting["reference"],
        execute=True,
    )
    assert report is not None
    assert report.trigger == JudgeDriftTrigger.GUARD
    # The guard judges its newest published version (no production label here).
    assert report.old_version == setting["v2"]
    assert report.blame == Blame.JUDGE
    assert (
        services.guard_judge_change_check(
            actor=None,
            rubric=rubric,
            old_judge=setting["old"],
            new_judge=setting["old"],
            reference_set=setting["reference"],
        )
        is None
    )
    assert (
        services.guard_judge_change_check(
            actor=None,
            rubric=rubric,
            old_judge=None,
            new_judge=setting["old"],
            reference_set=setting["reference"],
        )
        is None
    )


def test_a_guard_edit_schedules_the_check_and_the_new_judge_is_cleared_once_accepted(
    setting: dict[str, Any], members: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from apps.forensics import selectors
    from apps.forensics.models import JudgeDriftReport

    rubric = setting["v1"].rubric
    old, new = setting["old"], setting["biased"]
    assert not selectors.guard_judge_cleared(rubric=rubric, old_judge=old, new_judge=new)
    assert selectors.guard_judge_cleared(rubric=rubric, old_judge=old, new_judge=old)
    with django_capture_on_commit_callbacks(execute=True):
        scheduled = services.guard_judge_change_dispatch(
            rubric=rubric, old_judge=old, new_judge=new, reference_set=setting["reference"]
        )
    assert scheduled
    report = JudgeDriftReport.objects.get(rubric=rubric)
    assert report.trigger == JudgeDriftTrigger.GUARD and report.status == JobStatus.READY
    # The biased judge raises flags: it is cleared only once an admin accepts it.
    assert report.flags
    assert not selectors.guard_judge_cleared(rubric=rubric, old_judge=old, new_judge=new)
    services.guard_judge_accept(actor=members["admin"], report=report, reason="Checked by hand.")
    assert selectors.guard_judge_cleared(rubric=rubric, old_judge=old, new_judge=new)
    assert not services.guard_judge_change_dispatch(
        rubric=rubric, old_judge=old, new_judge=old, reference_set=setting["reference"]
    )


def test_one_config_edited_in_place_is_compared_before_and_after_the_edit(
    setting: dict[str, Any], members: Any
) -> None:
    from tests.forensics.factories import judged

    judge = setting["old"]
    before = judged(setting["v1"], judge, setting["reference"])
    # A temperature... here a position bias, edited on the same config.
    judge.params = {"position_bias": 0.6}
    judge.save()
    report = services.judge_drift_start(
        actor=members["author"],
        old_version=setting["v1"],
        old_judge=judge,
        new_judge=judge,
        reference_set=setting["reference"],
        execute=True,
    )
    assert report.run_old_id == before.pk
    assert report.run_new_judge_id != before.pk
    assert report.run_new_judge.created_at >= judge.updated_at
    assert report.blame == Blame.JUDGE
    assert "edited_at" in report.old_judge_state
    assert report.new_judge_state["params"] == {"position_bias": 0.6}


def test_refusals(setting: dict[str, Any], members: Any, other_project: Any) -> None:
    common = {
        "old_version": setting["v1"],
        "reference_set": setting["reference"],
        "execute": True,
    }
    with pytest.raises(PermissionDenied):
        services.judge_drift_start(
            actor=members["viewer"],
            old_judge=setting["old"],
            new_judge=setting["biased"],
            **common,
        )
    with pytest.raises(ValidationError) as same:
        # The same config, never run before an edit: nothing to compare.
        services.judge_drift_start(
            actor=members["author"], old_judge=setting["old"], new_judge=setting["old"], **common
        )
    assert "there is none" in same.value.message_dict["new_judge"][0]
    stranger = make_judge(other_project, name="Elsewhere")
    with pytest.raises(ValidationError) as foreign:
        services.judge_drift_start(
            actor=members["author"], old_judge=setting["old"], new_judge=stranger, **common
        )
    assert foreign.value.message_dict["new_judge"] == ["That judge belongs to another project."]


def test_a_report_whose_run_was_cancelled_fails_saying_so(
    setting: dict[str, Any], members: Any
) -> None:
    from apps.judging.models import RunStatus

    report = services.judge_drift_start(
        actor=members["author"],
        old_version=setting["v1"],
        old_judge=setting["old"],
        new_judge=setting["biased"],
        reference_set=setting["reference"],
    )
    assert report.status == JobStatus.PENDING
    for run in report.runs():
        run.status = RunStatus.CANCELLED if run == report.run_new_judge else RunStatus.SUCCEEDED
        run.save(update_fields=["status"])
    built = services.judge_drift_build(report_id=report.pk)
    assert built.status == JobStatus.FAILED
    assert built.error.startswith(f"Run {report.run_new_judge_id} ended cancelled")
