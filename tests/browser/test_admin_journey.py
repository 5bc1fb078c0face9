"""An admin reviews a drift alert: inbox, alert with chart and diff, block, refused promotion,
approval with a reason, promotion."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.drift import services
from apps.drift.models import AlertStatus, DriftAlert
from apps.rubrics.models import RubricLabel
from apps.rubrics.services import rubric_label_move
from tests.conftest import screenshot
from tests.drift.factories import MASKED, make_run, make_scenario, run_verdicts
from tests.factories import SAFE_CRITERIA, make_version


@pytest.mark.browser
def test_admin_reviews_blocks_approves_and_promotes(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    scenario = make_scenario(project, MASKED)
    rubric_label_move(actor=members["admin"], rubric=scenario.rubric, version=scenario.v1)
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    report = services.drift_report_build(report_id=report.pk)
    alert = DriftAlert.objects.get(report=report)
    page.on("dialog", lambda dialog: dialog.accept())  # the promote button asks to confirm

    login(page, members["admin"])
    page.goto(reverse("drift:inbox", kwargs={"project": project.slug}))
    row = page.locator(f'tr[data-alert="{alert.pk}"]')
    assert "harmlessness -30.0 pts" in row.inner_text()
    assert "Open" in row.inner_text() and "high" in row.inner_text()
    screenshot(page, "admin-journey-inbox")

    row.locator("a").click()
    page.wait_for_url(f"**/alerts/{alert.pk}/")
    chart = page.locator("svg.accuracy-chart")
    assert chart.is_visible()
    assert (
        page.locator('svg.accuracy-chart g.group.flagged[data-domain="harmlessness"]').count() == 1
    )
    assert page.locator(".diff-card .rubric-diff").is_visible()
    assert "masked_drift" in page.locator(".flag-list").inner_html()
    screenshot(page, "admin-journey-alert")

    # Block, with a reason, through the htmx decision panel.
    page.fill("#id_reason", "Harmlessness fell 30 points; hold v2 until the rubric is fixed.")
    page.click("button[name=decision][value=block]")
    page.locator('[data-alert-status="blocked"]').wait_for()
    assert "Blocked by" in page.locator("#alert-panel").inner_text()
    screenshot(page, "admin-journey-blocked")

    # Promotion on the rubric page is refused while the alert is blocked.
    rubric_page = reverse(
        "rubrics:detail", kwargs={"project": project.slug, "rubric": scenario.rubric.pk}
    )
    page.goto(rubric_page)
    page.select_option("#promote-version", str(scenario.v2.pk))
    page.click(".promote-form button[type=submit]")
    page.wait_for_load_state()
    refusal = page.locator(".message.error")
    refusal.wait_for()
    assert "An admin blocked v2" in refusal.inner_text()
    assert refusal.locator("a").get_attribute("href") == reverse(
        "drift:alert", kwargs={"project": project.slug, "alert": alert.pk}
    )
    assert RubricLabel.objects.get(rubric=scenario.rubric, name="production").version == (
        scenario.v1
    )
    screenshot(page, "admin-journey-promotion-refused")

    # A fork of the blocked v2 with a one-word edit: it passes against its parent, but it is
    # judged against production v1 as well, and that comparison refuses it.
    v3 = make_version(
        scenario.rubric.project,
        rubric=scenario.rubric,
        criteria=SAFE_CRITERIA,
        parent=scenario.v2,
        instructions="Judge which is best.",
    )
    make_run(
        version=v3,
        judge=scenario.judge,
        reference_set=scenario.reference_set,
        verdicts=run_verdicts(scenario.candidate_run),
        pairs=scenario.pairs,
    )
    services.drift_check_on_publish(version_id=v3.pk)  # what its publication announces
    services.drift_reports_sweep()
    page.goto(rubric_page)
    page.select_option("#promote-version", str(v3.pk))
    page.click(".promote-form button[type=submit]")
    page.wait_for_load_state()
    refusal = page.locator(".message.error")
    refusal.wait_for()
    text = refusal.inner_text()
    assert "v3 against production v1" in text and "harmlessness -30.0 pts" in text
    assert f"forked from v2, blocked by alert {alert.pk}" in text
    assert RubricLabel.objects.get(rubric=scenario.rubric, name="production").version == (
        scenario.v1
    )
    screenshot(page, "admin-journey-fork-refused")
    history = reverse(
        "drift:rubric_history", kwargs={"project": project.slug, "rubric": scenario.rubric.pk}
    )
    page.goto(history)
    assert page.locator('tr[data-version="3"] [data-lineage]').is_visible()
    assert page.locator('svg.history-chart g.column[data-version="v3"]').count() == 1
    screenshot(page, "admin-journey-history")

    # Approving needs a reason: the page says so before sending anything.
    page.goto(reverse("drift:alert", kwargs={"project": project.slug, "alert": alert.pk}))
    page.fill("#id_reason", "")
    page.click("button[name=decision][value=approve]")
    assert page.locator("[data-reason-hint]").is_visible()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.BLOCKED
    page.fill("#id_reason", "The harmlessness pairs were mislabelled; relabelled set confirms v2.")
    page.click("button[name=decision][value=approve]")
    page.locator('[data-alert-status="approved"]').wait_for()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.APPROVED and alert.resolved_by == members["admin"]
    screenshot(page, "admin-journey-approved")

    page.goto(rubric_page)
    page.select_option("#promote-version", str(scenario.v2.pk))
    page.click(".promote-form button[type=submit]")
    page.wait_for_load_state()
    page.locator(".message.success").wait_for()
    assert RubricLabel.objects.get(rubric=scenario.rubric, name="production").version == scenario.v2
    screenshot(page, "admin-journey-promoted")

    # The alert page holds at a phone's width: nothing overflows sideways.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(reverse("drift:alert", kwargs={"project": project.slug, "alert": alert.pk}))
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    screenshot(page, "admin-journey-alert-narrow")
