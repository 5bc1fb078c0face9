"""The drift gate as the rubric pages show it: badges on the list, the history and the version
page; the version page's drift block that follows a running check and stops polling once it is
decided; the inbox's baseline column; a decision answered in place with a confirmation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from apps.drift import services
from apps.drift.models import DriftReport
from apps.judging.models import RunStatus
from tests.drift.factories import MASKED, UNCHANGED, make_scenario

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _built(scenario: Any) -> DriftReport:
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk)


def _version_url(name: str, project: Any, version: Any) -> str:
    kwargs = {"project": project.slug, "rubric": version.rubric_id, "version": version.pk}
    return reverse(name, kwargs=kwargs)


def _badge(html: str, words: str) -> bool:
    """Whether ``html`` shows the gate badge with these words as text (never colour alone)."""
    words = re.escape(words)
    pattern = (
        rf'data-gate-state="{words}"[^>]*>(<span class="visually-hidden">[^<]*</span>)?{words}<'
    )
    return re.search(pattern, html) is not None


def test_the_version_page_follows_a_running_check_then_stops_polling(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    run = scenario.candidate_run
    run.status, run.done = RunStatus.RUNNING, 7
    run.save(update_fields=["status", "done"])
    report = services.drift_report_create(
        actor=None, baseline_run=scenario.baseline_run, candidate_run=run, dispatch=False
    )
    client.force_login(members["viewer"])
    page = client.get(_version_url("rubrics:version", project, scenario.v2)).content.decode()
    gate_url = _version_url("drift:version_gate", project, scenario.v2)
    assert 'id="version-gate"' in page and f'hx-get="{gate_url}"' in page
    assert 'hx-trigger="every 2s"' in page
    assert _badge(page, "drift check running")
    assert 'id="version-gate-badge"' in page and "hx-swap-oob" not in page
    baseline = scenario.baseline_run
    done = baseline.done + baseline.failed + 7
    total = baseline.total + run.total
    assert f"{done} / {total} judgments" in page
    assert f'data-report="{report.pk}"' in page and "Against its parent v1" in page

    polled = client.get(gate_url, **HTMX)
    assert polled.status_code == 200 and polled["Cache-Control"] == "no-store"
    assert "<html" not in polled.content.decode()
    assert 'hx-trigger="every 2s"' in polled.content.decode()

    run.status, run.done = RunStatus.SUCCEEDED, run.total
    run.save(update_fields=["status", "done"])
    services.drift_report_build(report_id=report.pk)
    final = client.get(gate_url, **HTMX).content.decode()
    assert "hx-trigger" not in final and 'data-gate-final="true"' in final
    assert _badge(final, "passed") and "judgments" not in final
    # The heading's badge comes along, swapped out of band.
    heading = final[final.index('id="version-gate-badge"') :]
    assert 'hx-swap-oob="true"' in heading.split(">")[0] and _badge(heading, "passed")
    report_url = reverse("drift:report", kwargs={"project": project.slug, "report": report.pk})
    assert f'href="{report_url}"' in final


def test_badges_on_the_list_the_history_and_the_version_page_name_the_alert(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _built(make_scenario(project, MASKED))
    alert = report.alert
    client.force_login(members["viewer"])
    listing = client.get(reverse("rubrics:list", kwargs={"project": project.slug}))
    html = listing.content.decode()
    assert _badge(html, "alert open") and 'class="badge gate open"' in html
    history = client.get(
        reverse("rubrics:detail", kwargs={"project": project.slug, "rubric": report.rubric_id})
    ).content.decode()
    # v2 has the alert; v1, the first version, has nothing to be compared with.
    assert _badge(history, "alert open") and _badge(history, "no baseline")
    page = client.get(_version_url("rubrics:version", project, report.candidate_version))
    html = page.content.decode()
    assert _badge(html, "alert open") and "hx-trigger" not in html
    alert_url = reverse("drift:alert", kwargs={"project": project.slug, "alert": alert.pk})
    assert f'href="{alert_url}"' in html and f"Open alert {alert.pk}" in html
    assert "v1 → v2: harmlessness -30.0 pts" in html

    services.alert_resolve(actor=members["admin"], alert=alert, decision="block", reason="No.")
    html = client.get(reverse("rubrics:list", kwargs={"project": project.slug})).content.decode()
    assert _badge(html, "blocked") and not _badge(html, "alert open")


def test_an_unguarded_version_has_a_badge_and_no_drift_block(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    scenario = make_scenario(project, UNCHANGED, guard=False)
    client.force_login(members["viewer"])
    html = client.get(_version_url("rubrics:version", project, scenario.v2)).content.decode()
    assert _badge(html, "not guarded") and 'id="version-gate"' not in html


def test_hostile_headlines_stay_text_in_the_drift_block(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _built(make_scenario(project, MASKED))
    report.alert.headline = "<script>alert(1)</script>"
    report.alert.save(update_fields=["headline"])
    client.force_login(members["viewer"])
    html = client.get(_version_url("drift:version_gate", project, report.candidate_version))
    body = html.content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_the_inbox_names_baseline_and_candidate(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _built(make_scenario(project, MASKED))
    client.force_login(members["viewer"])
    html = client.get(reverse("drift:inbox", kwargs={"project": project.slug})).content.decode()
    assert "<th>Baseline</th><th>Candidate</th>" in html
    row = html[html.index(f'data-alert="{report.alert.pk}"') :]
    assert row.index('<td class="baseline">v1</td>') < row.index('<td class="candidate">v2</td>')
    assert report.alert.headline.startswith("v1 → v2: ")


def test_a_decision_in_place_carries_its_confirmation(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _built(make_scenario(project, MASKED))
    url = reverse("drift:resolve", kwargs={"project": project.slug, "alert": report.alert.pk})
    client.force_login(members["admin"])
    answer = client.post(url, {"decision": "acknowledge", "reason": ""}, **HTMX)
    html = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in html
    assert 'id="alert-panel"' in html and 'data-alert-status="acknowledged"' in html
    # The heading's status badge follows, out of band.
    badge = html[html.index('id="report-status"') :]
    assert badge.index('hx-swap-oob="true"') < badge.index(">")
    assert 'data-drift-status="acknowledged"' in badge[: badge.index(">")]
    oob = html[html.index('id="messages"') :]
    assert 'hx-swap-oob="innerHTML"' in oob
    assert f"Alert {report.alert.pk} is now acknowledged." in oob
    # The message was shown in place, so the next page does not repeat it.
    page = client.get(reverse("drift:inbox", kwargs={"project": project.slug})).content.decode()
    assert "is now acknowledged." not in page
    # Without JavaScript the form posts, redirects, and the alert page says it.
    plain = client.post(url, {"decision": "block", "reason": ""}, follow=True)
    assert plain.redirect_chain[-1][0].endswith(f"/alerts/{report.alert.pk}/")
    assert f"Alert {report.alert.pk} is now blocked." in plain.content.decode()
