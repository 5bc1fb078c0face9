"""The web process killed while a run page polls its progress, then started again.

The studio runs as a separate server process on the test database. The run's chunks are judged
by this test process (the real chunk code, no worker needed), so the progress moves exactly when
the test says. While the server is down the page's polls fail; once it is back they must succeed
again and the bar must keep moving in the same document, without a reload. The one reload is
the page's own, when the run ends (the last poll asks for it to show the results).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.judging.models import ChunkStatus, RunChunk, RunStatus
from apps.judging.services import chunk_judge, run_start
from tests.factories import make_judge, make_reference_set, make_version
from tests.faults.conftest import Evidence, WebServer

PASSWORD = "correct horse battery"


def _judge_chunks(run_id: int, count: int) -> int:
    """Judge the next ``count`` pending chunks here; returns how many judgments were written."""
    written = 0
    pending = RunChunk.objects.filter(run_id=run_id, status=ChunkStatus.PENDING)
    for index in list(pending.order_by("index").values_list("index", flat=True)[:count]):
        written += chunk_judge(run_id=run_id, index=index).written
    return written


@pytest.mark.browser
@pytest.mark.slow
def test_progress_polling_survives_a_web_server_restart(
    evidence: Evidence, browser: Any, web_server: WebServer, project: Any, make_user: Any
) -> None:
    user = make_user("watcher", project=project, role="author")
    # The server process uses the production hashers, not the fast one of the tests.
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=300)
    judge = make_judge(project, params={"chunk_size": 50})
    run = run_start(
        actor=None, rubric_version=version, judge=judge, reference_set=reference, dispatch=False
    )
    assert run.total == 600

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=web_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    polls = {"finished": 0, "failed": 0}

    def is_poll(request: Any) -> bool:
        return f"/runs/{run.pk}/progress" in request.url

    page.on(
        "requestfinished",
        lambda r: is_poll(r) and polls.__setitem__("finished", polls["finished"] + 1),
    )
    page.on(
        "requestfailed", lambda r: is_poll(r) and polls.__setitem__("failed", polls["failed"] + 1)
    )
    try:
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login" not in url)
        page.goto(f"/p/{project.slug}/runs/{run.pk}/")
        navigations: list[str] = []
        page.on(
            "framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
        )
        bar = page.locator("#run-progress progress.bar")

        def bar_shows(value: int) -> None:
            page.wait_for_function(
                "v => document.querySelector('#run-progress progress.bar')"
                "?.getAttribute('value') === v",
                arg=str(value),
            )

        before = _judge_chunks(run.pk, 4)
        bar_shows(before)
        page.evaluate("() => { window.sameDocument = true; }")

        # Kill the server the moment a poll goes out.
        with page.expect_request(is_poll):
            pass
        web_server.kill()
        evidence(
            f"injected: SIGKILL to the web server (pid {web_server.process.pid}) as a progress "
            f"poll went out; the bar showed {bar.get_attribute('value')}/{run.total}"
        )
        during = before + _judge_chunks(run.pk, 6)
        # Playwright delivers its events while it waits, so the page waits rather than sleep.
        for _ in range(300):
            if polls["failed"] >= 3:
                break
            page.wait_for_timeout(100)
        assert polls["failed"] >= 3, polls
        failed_while_down = polls["failed"]
        assert bar.get_attribute("value") == str(before)
        evidence(
            f"while down: {failed_while_down} polls failed, the run moved on to "
            f"{during}/{run.total}; the bar still showed {bar.get_attribute('value')}"
        )

        finished_before_restart = polls["finished"]
        web_server.start()
        bar_shows(during)
        assert page.evaluate("() => window.sameDocument === true")
        assert navigations == []
        assert polls["finished"] > finished_before_restart
        evidence(
            f"server started again (pid {web_server.process.pid}); the bar moved to "
            f"{bar.get_attribute('value')}/{run.total} in the same document (no navigation)"
        )

        # The rest of the run, in two steps the bar follows, then its end.
        third = during + _judge_chunks(run.pk, 1)
        bar_shows(third)
        assert page.evaluate("() => window.sameDocument === true")
        _judge_chunks(run.pk, 100)
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED
        page.locator("[data-progress-percent]").filter(has_text="100%").wait_for()
        page.locator(".accuracy-table").wait_for()
        assert bar.get_attribute("value") == str(run.total)
        evidence(
            f"verified: after the restart the bar went {during} -> {third} -> {run.total} "
            f"(100%, run {run.status}); {len(navigations)} navigation, the page's own reload "
            f"when the run ended; polls: {polls['finished']} answered, {polls['failed']} failed"
        )
        assert len(navigations) == 1
    finally:
        context.close()
    assert not errors, f"JavaScript or CSP errors on the page: {errors}"
