"""An admin red-teams the demo rubric from its version page: a real worker runs the search, the
progress panel moves generation by generation, then the result shows the frontier, the attack
and its draft, the figures open the spend ledger and the attack's verdicts, and the version page
carries the robustness line."""

from __future__ import annotations

import re
from typing import Any

import pytest

from apps.redteam.models import JobStatus, RedTeamJob
from apps.redteam.tasks import TEST_DELAY_ENV
from tests.conftest import screenshot
from tests.factories import make_judge
from tests.redteam.factories import demo_rubric_version, redteam_reference_set


@pytest.mark.browser
@pytest.mark.worker
def test_red_team_from_the_version_page(
    page: Any,
    login: Any,
    members: dict[str, Any],
    project: Any,
    celery_worker_process: Any,
) -> None:
    version = demo_rubric_version(project, members["admin"])
    reference = redteam_reference_set(project, extra=40)
    judge = make_judge(project, name="Offline demo judge")
    # A pause per step keeps the job going long enough to watch it move.
    celery_worker_process(queues="default", concurrency=1, **{TEST_DELAY_ENV: "0.7"})

    login(page, members["admin"])
    page.goto(f"/p/{project.slug}/rubrics/{version.rubric_id}/v/{version.pk}/")
    assert "not red-teamed yet" in page.locator("#robustness").inner_text()
    page.click("#redteam-start-link")
    assert page.locator("#id_rubric_version").input_value() == str(version.pk)
    page.select_option("#id_judge", str(judge.pk))
    page.select_option("#id_reference_set", str(reference.pk))
    page.fill("#id_targets", "harmlessness")
    page.fill("#id_generations", "4")
    page.fill("#id_population", "4")
    page.fill("#id_sample_size", "80")
    page.fill("#id_seed", "7")
    page.click("button:has-text('Start red team')")

    page.wait_for_url(re.compile(r".*/redteam/\d+/$"))
    job = RedTeamJob.objects.get()
    # The polled panel shows the generations as they are stored.
    page.locator("#redteam-progress [data-generation]").filter(has_text="2").wait_for(
        timeout=90_000
    )
    seen = int(page.locator("#redteam-progress [data-candidates]").inner_text())
    assert seen > 1
    page.locator("#redteam-result-link").wait_for(timeout=120_000)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    page.click("#redteam-result-link")
    assert "worst drift found: harmlessness" in page.locator("#robustness-line").inner_text()
    assert page.locator(".frontier-chart svg circle.frontier-point").count() == 4
    assert page.locator("#redteam-test tr[data-scope='target']").is_visible()
    screenshot(page, "redteam-journey")

    # Each figure opens its rows: the judge calls are the judge rows of the spend ledger...
    page.click("[data-figure-link='spend-judge_calls']")
    page.wait_for_url(re.compile(r".*/spend/\?kind=judge$"))
    assert page.locator("[data-spend-row][data-kind='editor']").count() == 0
    assert int(page.locator("[data-total='judge_calls']").inner_text()) == job.judge_calls
    # ... and the attack is one candidate: its page lists its verdict on every pair it judged.
    page.go_back()
    page.click("#redteam-attack-link")
    page.wait_for_url(re.compile(rf".*/redteam/{job.pk}/candidates/{job.best_id}/$"))
    assert page.locator("[data-verdict-row]").count() > 0
    assert page.locator("[data-spend-row]").count() > 0
    page.go_back()

    page.click("#redteam-draft-link")
    assert page.locator("h1 .badge.draft").is_visible()
    assert "Red-team attack found by red team" in page.locator(".change-message").inner_text()

    page.goto(f"/p/{project.slug}/rubrics/{version.rubric_id}/v/{version.pk}/")
    line = page.locator("#robustness").inner_text()
    assert "worst drift found" in line and f"{job.candidates} candidates searched" in line
