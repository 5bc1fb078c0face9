"""An author finds a run whose worker died: the page says why it waits; once a worker is back,
"Resume now" sends the run again and the page ends on its results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from apps.core.liveness import forget_queue_states
from apps.core.models import AuditEvent
from apps.judging import services
from apps.judging.models import ChunkStatus, JudgingRun, RunChunk, RunStatus
from tests.conftest import screenshot
from tests.factories import make_judge, make_reference_set, make_version


@pytest.mark.browser
@pytest.mark.worker
def test_waiting_run_says_why_and_resumes_from_its_page(
    page: Any,
    login: Any,
    members: dict[str, Any],
    project: Any,
    celery_worker_process: Any,
) -> None:
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=make_judge(project, name="Offline demo judge", params={"chunk_size": 50}),
        reference_set=make_reference_set(project, n_pairs=40, name="Resume reference"),
        dispatch=False,
    )
    # Its worker died 45 s ago holding chunk 0; no worker consumes `default` now.
    silent = timezone.now() - timedelta(seconds=settings.LIVENESS_STALE_AFTER_S + 25)
    RunChunk.objects.filter(run=run, index=0).update(
        status=ChunkStatus.RUNNING, claimed_at=silent, attempts=1
    )
    JudgingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, heartbeat_at=silent)
    forget_queue_states()

    login(page, members["author"])
    page.goto(f"/p/{project.slug}/runs/{run.pk}/")
    notice = page.locator("[data-run-waiting]")
    notice.wait_for()
    text = notice.inner_text()
    assert "no worker has reported for" in text
    assert "no worker is consuming the `default` queue" in text
    screenshot(page, "run-waiting")

    celery_worker_process(queues="default", concurrency=1)
    forget_queue_states()
    # The polled progress partial follows: the queue has a consumer now.
    page.locator("[data-run-waiting]").filter(has_text="consumes the `default` queue").wait_for(
        timeout=30_000
    )
    page.click("[data-resume-run]")
    page.locator(".accuracy-table tr[data-domain='harmlessness']").wait_for(timeout=90_000)
    assert page.locator("[data-progress-percent]").inner_text() == "100%"
    assert page.locator("[data-run-waiting]").count() == 0
    run.refresh_from_db()
    assert (run.status, run.done, run.failed) == (RunStatus.SUCCEEDED, 80, 0)
    assert AuditEvent.objects.filter(action="run.resume", actor=members["author"]).count() == 1
