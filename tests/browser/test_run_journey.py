"""An author starts a run on a reference set with the offline judge, a real worker judges it, the
progress bar fills up, and the page then shows accuracy per domain and the pairs."""

from __future__ import annotations

from typing import Any

import pytest

from apps.judging.models import JudgingRun, RunStatus
from apps.judging.tasks import TEST_DELAY_ENV
from tests.conftest import screenshot
from tests.factories import make_judge, make_reference_set, make_version


@pytest.mark.browser
@pytest.mark.worker
def test_start_a_run_and_watch_it_finish(
    page: Any,
    login: Any,
    members: dict[str, Any],
    project: Any,
    celery_worker_process: Any,
) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=60, name="Journey reference")
    judge = make_judge(project, name="Offline demo judge", params={"chunk_size": 50})
    # A short pause per chunk keeps the run going long enough to see it move.
    celery_worker_process(queues="default", concurrency=1, **{TEST_DELAY_ENV: "0.5"})

    login(page, members["author"])
    page.goto(f"/p/{project.slug}/runs/")
    page.click("text=Start a run")
    page.select_option("#id_rubric_version", str(version.pk))
    page.select_option("#id_judge", str(judge.pk))
    page.select_option("#id_target", f"rs:{reference.pk}")
    # The estimate follows the form (htmx): 60 pairs in two orders.
    page.locator("[data-estimate-judgments]").filter(has_text="120").wait_for()
    assert "demo/test judge" in page.locator("#estimate").inner_text()
    page.click("button:has-text('Start run')")

    page.wait_for_url("**/runs/*/")
    run = JudgingRun.objects.get()
    assert page.locator("#run-progress").is_visible()
    # The polled partial fills the bar; at the end the page reloads with the results.
    page.locator(".accuracy-table tr[data-domain='harmlessness']").wait_for(timeout=90_000)
    assert page.locator("[data-progress-percent]").inner_text() == "100%"
    assert page.locator("progress.bar").get_attribute("value") == "120"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 120
    accuracy = page.locator(".accuracy-table").inner_text()
    assert "helpfulness" in accuracy and "All pairs" in accuracy
    assert page.locator(".pairs-table tbody tr").count() == 50  # first page of 60 pairs
    screenshot(page, "run-journey")

    # Filter the pairs to one domain (htmx swaps only the table).
    page.select_option("#f-domain", "harmlessness")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pairs-table tbody tr')].length === 30"
    )
    domains = page.locator(".pairs-table tbody td:nth-child(2)").all_inner_texts()
    assert set(domains) == {"harmlessness"}

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    screenshot(page, "run-journey-narrow")
