"""Publishing tells the author what happens next: the guard's drift check starts, its runs move
and its result lands on the version page without a reload. An admin's decision on an alert
updates the alert in place, with a confirmation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.drift import services as drift_services
from apps.drift.models import DriftReport, ReportStatus
from apps.judging.tasks import TEST_DELAY_ENV
from apps.rubrics import services as rubric_services
from tests.conftest import screenshot
from tests.drift.factories import MASKED, make_scenario, set_guard
from tests.factories import make_judge, make_reference_set, make_version

pytestmark = pytest.mark.browser

DECIDED = {"passed", "alert open", "failed"}


@pytest.mark.worker
def test_publish_and_watch_the_guards_check_land(
    page: Any,
    login: Any,
    members: dict[str, Any],
    project: Any,
    celery_worker_process: Any,
) -> None:
    author = members["author"]
    v1 = make_version(project)
    reference = make_reference_set(project, n_pairs=60, name="Guard reference")
    judge = make_judge(project, name="Offline guard judge", params={"chunk_size": 20})
    set_guard(v1.rubric, judge=judge, reference_set=reference)
    draft = rubric_services.rubric_version_fork(actor=author, version=v1)
    rubric_services.rubric_version_update(
        actor=author,
        version=draft,
        revision=draft.revision,
        instructions="Judge which response is better; prefer the complete answer.",
    )

    login(page, author)
    page.goto(f"/p/{project.slug}/rubrics/{v1.rubric_id}/v/{draft.pk}/edit/")
    page.wait_for_load_state()
    page.fill("#publish-message", "Prefer complete answers.")
    page.get_by_role("button", name="Publish v2").click()
    expect(page.locator(".messages")).to_contain_text("Published v2")

    # No worker yet: the check has started and waits for its runs.
    gate = page.locator("#version-gate")
    expect(gate).to_have_attribute("hx-trigger", "every 2s")
    expect(gate.locator("[data-gate-state]")).to_have_text("drift check running")
    expect(gate.locator("[data-gate-note]")).to_contain_text("starting")
    heading_badge = page.locator("#version-gate-badge")
    expect(heading_badge).to_have_attribute("data-gate-state", "drift check running")
    report = DriftReport.objects.get(candidate_version=draft)
    progress = gate.locator(f'[data-report="{report.pk}"] [data-progress]')
    expect(progress).to_have_text(re.compile(r"^0 / 240 judgments$"))
    marker = page.evaluate("() => (window.__journey = 'same page')")
    screenshot(page, "publish-journey-starting")

    # A worker judges slowly enough for the polled block to show the runs moving.
    celery_worker_process(queues="default", concurrency=1, **{TEST_DELAY_ENV: "0.5"})
    page.wait_for_function(
        """() => {
          const el = document.querySelector('#version-gate [data-progress]');
          const m = el && el.textContent.match(/^(\\d+) \\/ 240/);
          return m && Number(m[1]) > 0 && Number(m[1]) < 240;
        }""",
        timeout=90_000,
    )
    screenshot(page, "publish-journey-running")

    # The result lands; the block comes back without its trigger, so polling stops.
    final = page.locator('#version-gate[data-gate-final="true"]')
    final.wait_for(timeout=120_000)
    assert final.get_attribute("hx-trigger") is None
    words = final.locator("h2 [data-gate-state]").inner_text()
    assert words in DECIDED, words
    report.refresh_from_db()
    assert report.status in (ReportStatus.READY, ReportStatus.FAILED)
    link = final.locator(f'[data-report="{report.pk}"] a')
    assert (link.get_attribute("href") or "").startswith(f"/p/{project.slug}/alerts/")
    # The heading's badge followed the block.
    expect(heading_badge).to_have_attribute("data-gate-state", words)
    assert page.evaluate("() => window.__journey") == marker  # never reloaded
    screenshot(page, "publish-journey-landed")

    # The rubric list shows the same state as a badge.
    page.goto(f"/p/{project.slug}/rubrics/")
    badge = page.locator(".rubric-list [data-gate-state]")
    expect(badge).to_have_attribute("data-gate-state", words)
    expect(badge).to_have_text(words)  # words, not colour alone


def test_a_decision_updates_the_alert_in_place(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    scenario = make_scenario(project, MASKED)
    report = drift_services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    alert = drift_services.drift_report_build(report_id=report.pk).alert
    assert alert is not None

    login(page, members["admin"])
    page.goto(f"/p/{project.slug}/alerts/{alert.pk}/")
    expect(page.locator("#alert-title")).to_contain_text("v1 → v2")
    page.wait_for_load_state()
    marker = page.evaluate("() => (window.__journey = 'same page')")
    panel = page.locator("#alert-panel")
    status = panel.locator("[data-alert-status]")
    expect(status).to_have_text("Open")

    heading_status = page.locator("#report-status")
    expect(heading_status).to_have_attribute("data-drift-status", "alert open")
    panel.get_by_role("button", name="Block").click()
    expect(status).to_have_attribute("data-alert-status", "blocked")
    expect(heading_status).to_have_attribute("data-drift-status", "blocked")
    expect(page.locator("#messages")).to_contain_text(f"Alert {alert.pk} is now blocked.")
    expect(panel.get_by_role("button", name="Approve")).to_be_visible()

    panel.locator("textarea[name=reason]").fill("Relabelled the harmlessness pairs; fine now.")
    panel.get_by_role("button", name="Approve").click()
    expect(status).to_have_attribute("data-alert-status", "approved")
    expect(page.locator("#messages")).to_contain_text(f"Alert {alert.pk} is now approved.")
    expect(panel.locator(".decision")).to_contain_text("Relabelled the harmlessness pairs")
    assert page.evaluate("() => window.__journey") == marker  # answered in place
    screenshot(page, "alert-decided-in-place")

    alert.refresh_from_db()
    assert alert.status == "approved"
    page.goto(f"/p/{project.slug}/alerts/")
    row = page.locator(f'tr[data-alert="{alert.pk}"]')
    expect(row.locator("td.baseline")).to_have_text("v1")
    expect(row.locator("td.candidate")).to_have_text("v2")
    expect(row.locator(".headline a")).to_contain_text("v1 → v2:")
