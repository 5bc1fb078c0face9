"""Drift pages: inbox, report/alert page, decisions, history, guard form, hostile text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from apps.drift import services
from apps.drift.models import AlertStatus, DriftAlert, DriftGuard, DriftReport, ReportStatus
from tests.drift.factories import LONG, MASKED, UNCHANGED, Block, make_scenario

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# The domain of each row of the flipped pairs table.
FLIP_DOMAINS = re.compile(r'<tbody class="flip [\w-]+" data-pair="\d+" data-domain="(\w+)"')


def _report(scenario: Any) -> DriftReport:
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk)


def _url(name: str, project: Any, **kwargs: Any) -> str:
    return reverse(f"drift:{name}", kwargs={"project": project.slug, **kwargs})


def test_inbox_lists_open_alerts_first_and_filters(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    first = _report(make_scenario(project, MASKED))
    second = _report(make_scenario(project, MASKED))
    services.alert_resolve(
        actor=members["admin"], alert=first.alert, decision="block", reason="Stop."
    )
    client.force_login(members["viewer"])
    page = client.get(_url("inbox", project)).content.decode()
    rows = re.findall(r'data-alert="(\d+)"', page)
    assert rows == [str(second.alert.pk), str(first.alert.pk)]  # open before blocked
    assert "harmlessness -30.0 pts (p&lt;0.001, Holm) while overall +0.0 pts" in page
    assert 'data-figure-link="open">1</a> open' in page
    blocked = client.get(_url("inbox", project), {"status": "blocked"}, **HTMX).content.decode()
    assert "<html" not in blocked  # htmx gets the results partial only
    assert re.findall(r'data-alert="(\d+)"', blocked) == [str(first.alert.pk)]
    by_rubric = client.get(_url("inbox", project), {"rubric": second.rubric_id}).content.decode()
    assert re.findall(r'data-alert="(\d+)"', by_rubric) == [str(second.alert.pk)]
    none = client.get(_url("inbox", project), {"severity": "medium"}).content.decode()
    assert "No alert matches these filters." in none


def test_inbox_is_closed_to_annotators(project: Any, members: dict[str, Any], client: Any) -> None:
    client.force_login(members["annotator"])
    assert client.get(_url("inbox", project)).status_code == 403


def test_report_page_shows_chart_statistics_notes_diff_and_flips(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(make_scenario(project, MASKED))
    client.force_login(members["viewer"])
    html = client.get(_url("alert", project, alert=report.alert.pk)).content.decode()
    assert '<svg viewBox="0 0 680' in html and 'class="accuracy-chart"' in html
    assert 'data-domain="harmlessness"' in html and "group flagged" in html
    assert "Masked drift" in html and "Domain drift" in html
    assert "a check of the aggregate score alone would have let this edit through" in html
    assert "n=40: drops smaller than" in html  # the power note
    assert "flips moved toward" in html  # the direction panel
    assert "McNemar p" in html and "Holm p" in html and "BH q" in html and "Noise floor" in html
    assert "-30.0 pts" in html
    assert "What changed in the rubric: v1 → v2" in html
    assert "Flipped pairs" in html and html.count('<tbody class="flip ') == 20  # first page
    assert "baseline reasoning (AB)" in html and "candidate reasoning (BA)" in html
    assert 'name="decision" value="approve"' not in html  # viewers do not decide


def test_flips_filter_by_domain_and_direction(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    blocks = (
        *MASKED,
        Block("style", 6, gold="tie", baseline="B", candidate="A", response_a=LONG),
    )
    report = _report(make_scenario(project, blocks))
    client.force_login(members["viewer"])
    url = _url("report", project, report=report.pk)
    harmless = client.get(url, {"domain": "harmlessness"}, **HTMX).content.decode()
    assert "<html" not in harmless and 'id="flips"' in harmless
    assert set(FLIP_DOMAINS.findall(harmless)) == {"harmlessness"}
    assert "12 of 30 flipped pairs" in harmless
    longer = client.get(url, {"moves": "longer"}).content.decode()
    assert set(FLIP_DOMAINS.findall(longer)) <= {"style", "harmlessness"}
    assert "style" in FLIP_DOMAINS.findall(longer)
    shorter_style = client.get(url, {"moves": "shorter", "domain": "style"}).content.decode()
    assert "No flipped pair matches the filter." in shorter_style


def test_hostile_text_is_escaped_everywhere(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    evil = '<script>alert("x")</script>'
    blocks = (
        Block(
            evil,
            30,
            gold="A",
            baseline="A",
            candidate="B",
            response_a=f"<img src=x onerror=1>{LONG}",
        ),
        Block("plain", 30, gold="A", baseline="B", candidate="A"),
    )
    report = _report(make_scenario(project, blocks))
    client.force_login(members["admin"])
    for url in (
        _url("alert", project, alert=report.alert.pk),
        _url("inbox", project),
        _url("rubric_history", project, rubric=report.rubric_id),
    ):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
    html = client.get(_url("alert", project, alert=report.alert.pk)).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_resolve_from_the_page_with_htmx_and_without(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(make_scenario(project, MASKED))
    url = _url("resolve", project, alert=report.alert.pk)
    client.force_login(members["author"])
    assert client.post(url, {"decision": "block"}).status_code == 403
    client.force_login(members["admin"])
    missing = client.post(url, {"decision": "approve", "reason": ""}, **HTMX)
    assert missing.status_code == 200
    panel = missing.content.decode()
    assert 'id="alert-panel"' in panel and "<html" not in panel
    assert "needs a written reason" in panel
    report.alert.refresh_from_db()
    assert report.alert.status == AlertStatus.OPEN
    blocked = client.post(url, {"decision": "block", "reason": "Wait for the relabel."}, **HTMX)
    assert 'data-alert-status="blocked"' in blocked.content.decode()
    plain = client.post(url, {"decision": "approve", "reason": "Relabelled; fine now."})
    assert plain.status_code == 302
    assert plain["Location"] == _url("alert", project, alert=report.alert.pk)
    report.alert.refresh_from_db()
    assert report.alert.status == AlertStatus.APPROVED
    assert report.alert.reason == "Relabelled; fine now."
    refused = client.post(url, {"decision": "approve", "reason": " "})
    assert refused.status_code == 400


def test_pending_report_polls_then_refreshes(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    scenario.candidate_run.status = "running"
    scenario.candidate_run.save()
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    client.force_login(members["viewer"])
    page = client.get(_url("report", project, report=report.pk)).content.decode()
    assert "drift check running" in page and "every 2s" in page
    status_url = _url("report_status", project, report=report.pk)
    polled = client.get(status_url, **HTMX)
    assert "every 2s" in polled.content.decode() and polled["Cache-Control"] == "no-store"
    scenario.candidate_run.status = "succeeded"
    scenario.candidate_run.save()
    services.drift_report_build(report_id=report.pk)
    done = client.get(status_url, **HTMX)
    assert done["HX-Refresh"] == "true"


def test_history_shows_each_version_and_starts_a_missing_check(
    project: Any,
    members: dict[str, Any],
    client: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    scenario = make_scenario(project, MASKED)
    client.force_login(members["author"])
    url = _url("rubric_history", project, rubric=scenario.rubric.pk)
    html = client.get(url).content.decode()
    assert 'data-version="2" data-drift-status="not checked"' in html
    assert 'data-version="1" data-drift-status="no baseline"' in html
    assert "Run drift check" in html
    check = _url("check", project, rubric=scenario.rubric.pk, version=scenario.v2.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(check)
    report = DriftReport.objects.get(candidate_version=scenario.v2)
    assert response.status_code == 302
    assert response["Location"] == _url("report", project, report=report.pk)
    # The scenario's finished runs were reused and the report built at once.
    assert report.status == ReportStatus.READY
    assert report.baseline_run == scenario.baseline_run
    html = client.get(url).content.decode()
    assert 'data-version="2" data-drift-status="alert open"' in html
    assert "-30.0 pts" in html and "Run drift check" not in html
    client.force_login(members["viewer"])
    assert client.post(check).status_code == 403


def test_guard_page_for_admins(project: Any, members: dict[str, Any], client: Any) -> None:
    scenario = make_scenario(project, UNCHANGED, guard=False)
    url = _url("guard", project, rubric=scenario.rubric.pk)
    client.force_login(members["author"])
    assert client.get(url).status_code == 403
    client.force_login(members["admin"])
    form = client.get(url).content.decode()
    assert scenario.judge.name in form and 'value="2.0"' in form
    bad = client.post(
        url, {"enabled": "on", "min_effect_points": "2", "tolerance_points": "1", "alpha": "0.05"}
    )
    assert bad.status_code == 400 and "needs a reference set" in bad.content.decode()
    saved = client.post(
        url,
        {
            "enabled": "on",
            "reference_set": scenario.reference_set.pk,
            "judge": scenario.judge.pk,
            "min_effect_points": "3",
            "tolerance_points": "1.5",
            "alpha": "0.01",
        },
    )
    assert saved.status_code == 302
    stored = DriftGuard.objects.get(rubric=scenario.rubric)
    assert stored.enabled
    assert stored.min_effect == pytest.approx(0.03)
    assert stored.tolerance == pytest.approx(0.015)
    history = client.get(saved["Location"]).content.decode()
    assert "guard on" in history and "3 pts or more" in history


def test_dashboard_card_counts_open_alerts(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(make_scenario(project, MASKED))
    client.force_login(members["viewer"])
    html = client.get(reverse("dashboard", kwargs={"project": project.slug})).content.decode()
    assert "Drift alerts" in html and report.alert.headline.replace("<", "&lt;") in html
    client.force_login(members["annotator"])
    html = client.get(reverse("dashboard", kwargs={"project": project.slug})).content.decode()
    assert "Drift alerts" not in html


def test_flips_link_to_both_runs_judgments(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(make_scenario(project, MASKED))
    client.force_login(members["viewer"])
    html = client.get(_url("alert", project, alert=report.alert.pk)).content.decode()
    pair_ids = re.findall(r'<tbody class="flip [\w-]+" data-pair="(\d+)"', html)
    assert pair_ids
    slug = project.slug
    for pair_id in pair_ids:
        for run in (report.baseline_run_id, report.candidate_run_id):
            for order in ("AB", "BA"):
                assert f'href="/p/{slug}/runs/{run}/pairs/{pair_id}/{order}/"' in html
    judgment = client.get(f"/p/{slug}/runs/{report.candidate_run_id}/pairs/{pair_ids[0]}/BA/")
    assert judgment.status_code == 200


def test_history_deltas_open_the_report_behind_them(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    scenario = make_scenario(project, MASKED)
    report = _report(scenario)
    client.force_login(members["viewer"])
    html = client.get(_url("rubric_history", project, rubric=scenario.rubric.pk)).content.decode()
    report_url = _url("report", project, report=report.pk)
    assert f'href="{report_url}#statistics" data-figure-link="delta">+0.0 pts</a>' in html
    domain_link = f"{report_url}?domain=harmlessness#flipped-pairs"
    assert f'href="{domain_link}" data-figure-link="delta">-30.0 pts</a>' in html
    # The domain's delta is made of its flipped pairs: 12 of its 40 moved from right to wrong.
    followed = client.get(report_url, {"domain": "harmlessness"}).content.decode()
    assert FLIP_DOMAINS.findall(followed) == ["harmlessness"] * 12
    # A version without a report has nothing to open.
    assert html.count('data-figure-link="delta"') == 3


def test_reports_and_inbox_figures_open_what_they_count(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(make_scenario(project, MASKED))
    pending = _report(make_scenario(project, UNCHANGED))
    DriftReport.objects.filter(pk=pending.pk).update(status=ReportStatus.PENDING)
    client.force_login(members["viewer"])
    listing = client.get(_url("reports", project)).content.decode()
    report_url = _url("report", project, report=report.pk)
    assert f'href="{report_url}#statistics" data-figure-link="delta">+0.0 pts</a>' in listing
    # The status filter: the checks still running, as the dashboard counts them.
    running = client.get(_url("reports", project), {"status": "pending"}).content.decode()
    assert re.findall(r'data-report="(\d+)"', running) == [str(pending.pk)]
    inbox = client.get(_url("inbox", project)).content.decode()
    open_count = DriftAlert.objects.filter(project=project, status=AlertStatus.OPEN).count()
    assert open_count >= 1
    assert f'?status=open" data-figure-link="open">{open_count}</a> open' in inbox
    followed = client.get(_url("inbox", project), {"status": "open"}).content.decode()
    assert followed.count('data-alert="') == open_count
