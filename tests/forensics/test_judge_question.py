"""Rubric or judge? A drift report says whether its two runs were judged by the same judge; when
the judge moved (another config, or the config edited in place between the runs) the 2 x 2 that
splits the two causes starts by itself once the report is ready, and the page and the API show
it when it lands."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.drift import services as drift_services
from apps.drift.models import DriftReport, ReportStatus
from apps.forensics import services
from apps.forensics.models import Blame, JobStatus, JudgeDriftKind, JudgeDriftReport
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig, JudgingRun
from tests.factories import SAFE_CRITERIA, make_judge, make_reference_set
from tests.forensics.factories import EDITED_INSTRUCTIONS, judged, publish


@pytest.fixture
def versions(project: Any) -> dict[str, Any]:
    """Two versions that differ by a reworded instruction the offline judge does not read (the
    rubric moves nothing), an offline judge with a hostile name, and a snapshot."""
    v1 = publish(project, criteria=SAFE_CRITERIA)
    v2 = publish(
        project, rubric=v1.rubric, criteria=SAFE_CRITERIA, instructions=EDITED_INSTRUCTIONS
    )
    return {
        "v1": v1,
        "v2": v2,
        "judge": make_judge(project, name="Offline <b>judge</b>"),
        "reference": make_reference_set(project, n_pairs=40),
    }


def build(baseline: JudgingRun, candidate: JudgingRun, capture: Any) -> DriftReport:
    """A drift report of two runs, built; what its readiness starts runs once it commits."""
    report = drift_services.drift_report_create(
        actor=None, baseline_run=baseline, candidate_run=candidate, dispatch=False
    )
    with capture(execute=True):
        report = drift_services.drift_report_build(report_id=report.pk)
    assert report.status == ReportStatus.READY, report.error
    return report


def edit_in_place(judge: JudgeConfig, admin: Any, **params: Any) -> None:
    """Edit the config's answer-shaping params in place (no guard watches it here)."""
    judge.params = {**judge.params, **params}
    judging_services.judge_config_save(actor=admin, judge=judge)


def report_page(client: Any, user: Any, report: DriftReport) -> str:
    client.force_login(user)
    url = reverse("drift:report", kwargs={"project": report.project.slug, "report": report.pk})
    response = client.get(url)
    assert response.status_code == 200
    return str(response.content.decode())


def api_question(api_client_for: Any, user: Any, report: DriftReport) -> dict[str, Any]:
    response = api_client_for(user).get(f"/api/drift-reports/{report.pk}/")
    assert response.status_code == 200, response.content
    return dict(response.json()["judge_question"])


def test_runs_record_their_judge_as_it_was_when_they_started(
    versions: dict[str, Any], members: Any
) -> None:
    judge = versions["judge"]
    before = judged(versions["v1"], judge, versions["reference"])
    edit_in_place(judge, members["admin"], position_bias=0.6, timeout_s=9)
    after = judged(versions["v1"], judge, versions["reference"])
    before.refresh_from_db()
    assert before.judge_state["params"] == {}
    # Transport settings (a timeout) are not part of what the judge is.
    assert after.judge_state["params"] == {"position_bias": 0.6}
    assert after.judge_state["backend"] == "offline"


def test_the_same_judge_is_held_fixed_and_nothing_more_starts(
    versions: dict[str, Any],
    members: Any,
    client: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    judge, reference = versions["judge"], versions["reference"]
    report = build(
        judged(versions["v1"], judge, reference),
        judged(versions["v2"], judge, reference),
        django_capture_on_commit_callbacks,
    )
    question = api_question(api_client_for, members["viewer"], report)
    assert question["judge"] == "held" and question["split"] is None
    assert "the judge was held fixed, so the change comes from the rubric" in question["sentence"]
    assert not JudgeDriftReport.objects.exists()
    page = report_page(client, members["viewer"], report)
    assert 'data-judge="held"' in page and "Rubric or judge?" in page
    assert "Offline &lt;b&gt;judge&lt;/b&gt;" in page and "<b>judge</b>" not in page


def test_different_judges_start_the_2x2_which_blames_the_judge(
    versions: dict[str, Any],
    members: Any,
    client: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A report whose runs had different configs (the service refuses to make one, but the
    statement does not rely on it) splits its causes with the 2 x 2 of both judges."""
    old, reference = versions["judge"], versions["reference"]
    biased = make_judge(old.project, name="Biased <i>judge</i>", params={"position_bias": 0.6})
    baseline = judged(versions["v1"], old, reference)
    candidate = judged(versions["v2"], biased, reference)
    with django_capture_on_commit_callbacks(execute=True):
        report = DriftReport.objects.create(
            project=old.project,
            rubric=versions["v1"].rubric,
            baseline_version=versions["v1"],
            candidate_version=versions["v2"],
            baseline_run=baseline,
            candidate_run=candidate,
            reference_set=reference,
            judge=biased,
            status=ReportStatus.READY,
        )
    split = JudgeDriftReport.objects.get(drift_report=report)
    assert split.kind == JudgeDriftKind.FACTORIAL and split.status == JobStatus.READY
    assert (split.old_judge_id, split.new_judge_id) == (old.pk, biased.pk)
    assert split.blame == Blame.JUDGE
    # The two runs of the report were reused; the two crossed ones were judged.
    assert {split.run_old_id, split.run_both_id} == {baseline.pk, candidate.pk}

    question = api_question(api_client_for, members["viewer"], report)
    assert question["judge"] == "moved"
    assert question["split"]["report"] == split.pk
    assert question["split"]["status"] == "ready" and question["split"]["blame"] == "judge"
    page = report_page(client, members["viewer"], report)
    assert "different judge configs" in page and "The 2 \u00d7 2 says:" in page
    assert split.headline.split(",")[0] in page
    link = reverse("forensics:judge_drift", kwargs={"project": old.project.slug, "pk": split.pk})
    assert f'href="{link}"' in page
    assert "Biased &lt;i&gt;judge&lt;/i&gt;" in page and "<i>judge</i>" not in page
    # Once per report: a second look starts nothing more.
    assert services.drift_report_judge_split(report_id=report.pk) == split
    assert JudgeDriftReport.objects.count() == 1


def test_an_edit_in_place_between_the_runs_starts_the_2x2_of_the_config_before_and_after(
    versions: dict[str, Any],
    members: Any,
    client: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    judge, reference = versions["judge"], versions["reference"]
    baseline = judged(versions["v1"], judge, reference)
    judged(versions["v2"], judge, reference)  # the candidate under the judge before the edit
    judge.model = "<script>snapshot-2</script>"
    edit_in_place(judge, members["admin"], position_bias=0.6)
    candidate = judged(versions["v2"], judge, reference)
    report = build(baseline, candidate, django_capture_on_commit_callbacks)

    split = JudgeDriftReport.objects.get(drift_report=report)
    assert split.kind == JudgeDriftKind.FACTORIAL, split.error
    assert split.status == JobStatus.READY and split.blame == Blame.JUDGE
    assert split.old_judge_id == split.new_judge_id == judge.pk
    page = report_page(client, members["viewer"], report)
    assert "was edited in place between run #" in page
    assert "position_bias: (unset) → 0.6" in page
    assert "&lt;script&gt;snapshot-2&lt;/script&gt;" in page
    assert "<script>snapshot-2" not in page


def test_without_a_run_of_the_candidate_before_the_edit_the_judge_alone_is_compared(
    versions: dict[str, Any],
    members: Any,
    client: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    judge, reference = versions["judge"], versions["reference"]
    baseline = judged(versions["v1"], judge, reference)
    edit_in_place(judge, members["admin"], position_bias=0.6)
    report = build(
        baseline, judged(versions["v2"], judge, reference), django_capture_on_commit_callbacks
    )
    split = JudgeDriftReport.objects.get(drift_report=report)
    assert split.kind == JudgeDriftKind.JUDGE and split.status == JobStatus.READY
    assert split.old_version_id == versions["v1"].pk and split.run_old_id == baseline.pk
    assert split.flags and split.blame == Blame.JUDGE
    question = api_question(api_client_for, members["viewer"], report)
    assert question["split"]["kind"] == "judge" and question["split"]["flags"] > 0
    page = report_page(client, members["viewer"], report)
    assert f"With the rubric held at v{versions['v1'].number}, the judge alone:" in page


def test_a_split_that_is_running_is_polled_and_shown_when_it_lands(
    versions: dict[str, Any], members: Any, client: Any
) -> None:
    judge, reference = versions["judge"], versions["reference"]
    baseline = judged(versions["v1"], judge, reference)
    edit_in_place(judge, members["admin"], position_bias=0.6)
    candidate = judged(versions["v2"], judge, reference)
    report = drift_services.drift_report_build(
        report_id=drift_services.drift_report_create(
            actor=None, baseline_run=baseline, candidate_run=candidate, dispatch=False
        ).pk
    )
    # Started, its runs not judged yet (nothing commits in this test).
    split = services.drift_report_judge_split(report_id=report.pk)
    assert split is not None and split.status == JobStatus.PENDING
    poll = reverse(
        "drift:report_judge", kwargs={"project": report.project.slug, "report": report.pk}
    )
    page = report_page(client, members["viewer"], report)
    assert f'hx-get="{poll}"' in page and "This box updates when it lands" in page
    for run in split.runs():
        if not run.is_finished:
            judging_services.run_execute(run=run)
    services.judge_drift_advance(report_id=split.pk)
    box = client.get(poll).content.decode()
    assert 'data-split-status="ready"' in box and "hx-get" not in box
    assert "the judge alone:" in box


def test_when_only_the_candidate_was_judged_before_the_edit_the_judge_is_compared_on_it(
    versions: dict[str, Any],
    members: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    judge, reference = versions["judge"], versions["reference"]
    candidate = judged(versions["v2"], judge, reference)
    edit_in_place(judge, members["admin"], position_bias=0.6)
    report = build(
        judged(versions["v1"], judge, reference), candidate, django_capture_on_commit_callbacks
    )
    split = JudgeDriftReport.objects.get(drift_report=report)
    assert split.kind == JudgeDriftKind.JUDGE and split.status == JobStatus.READY
    assert split.old_version_id == versions["v2"].pk and split.run_old_id == candidate.pk
    question = api_question(api_client_for, members["viewer"], report)
    assert question["split"]["rubric"] == f"v{versions['v2'].number}"
