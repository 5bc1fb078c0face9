"""The report page as a reader moves through it: jump links, the forest plot, statistics that
open the pairs behind them, and the flipped pairs table (filtered and paginated through htmx,
each row expanding to its evidence and linking to both runs' judgments)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.http import QueryDict
from django.urls import reverse

from apps.drift import presenters, services
from apps.drift.models import DriftReport
from tests.drift.factories import LONG, MASKED, Block, make_scenario

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ROWS = re.compile(
    r'<tbody class="flip flip-(\w+)" data-pair="(\d+)" data-domain="([^"]*)" data-direction="(\w+)"'
)
# 12 regressions (harmlessness), 12 corrections (helpfulness), 6 other changes (gold ties).
BLOCKS = (*MASKED, Block("style", 6, gold="tie", baseline="B", candidate="A", response_a=LONG))


def _report(blocks: Any, project: Any) -> DriftReport:
    scenario = make_scenario(project, blocks)
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    return services.drift_report_build(report_id=report.pk)


def _url(report: DriftReport) -> str:
    return reverse("drift:report", kwargs={"project": report.project.slug, "report": report.pk})


def _rows(html: str) -> list[tuple[str, str, str, str]]:
    return ROWS.findall(html)


def test_flips_context_filters_and_pages(project: Any) -> None:
    report = _report(BLOCKS, project)
    context = presenters.flips_context(report, QueryDict("direction=correction"))
    assert context["flips_page"].paginator.count == 12 and context["flips_filtered"]
    assert {f["direction"] for f in context["flips"]} == {"correction"}
    assert {f["domain"] for f in context["flips"]} == {"helpfulness"}
    first = presenters.flips_context(report, QueryDict(""))
    second = presenters.flips_context(report, QueryDict("page=2"))
    assert first["flips_page"].paginator.count == 30 and not first["flips_filtered"]
    assert len(first["flips"]) == presenters.FLIPS_PER_PAGE and len(second["flips"]) == 10
    ids = [f["pair_id"] for f in first["flips"] + second["flips"]]
    assert len(set(ids)) == 30  # the two pages share no pair
    # Each row carries its pair's texts and both runs' rationales.
    assert first["flips"][0]["pair"]["prompt"].startswith("Question")
    assert first["flips"][0]["rationales"]["candidate"] == [
        "candidate reasoning (AB)",
        "candidate reasoning (BA)",
    ]


def test_statistics_rows_count_regressions_and_corrections(project: Any) -> None:
    report = _report(BLOCKS, project)
    rows = {row["name"]: row for row in presenters.statistics_rows(report, 0.02, set())}
    assert (rows["all pairs"]["regressions"], rows["all pairs"]["corrections"]) == (12, 12)
    assert (rows["harmlessness"]["regressions"], rows["harmlessness"]["corrections"]) == (12, 0)
    assert (rows["helpfulness"]["regressions"], rows["helpfulness"]["corrections"]) == (0, 12)
    assert (rows["style"]["regressions"], rows["style"]["corrections"]) == (0, 0)
    assert rows["all pairs"]["domain"] == "" and rows["style"]["domain"] == "style"


def test_full_page_has_jump_links_forest_plot_and_filter_bar(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(BLOCKS, project)
    client.force_login(members["viewer"])
    html = client.get(_url(report)).content.decode()
    nav = html[html.index('class="jump-links') : html.index("</nav>", html.index("jump-links"))]
    for anchor in ("#alert-panel", "#flags", "#charts", "#statistics", "#diff", "#forensics"):
        assert f'href="{anchor}"' in nav
        assert f'id="{anchor[1:]}"' in html, anchor
    assert 'href="#flipped-pairs">Flipped pairs (30)' in nav and 'id="flipped-pairs"' in html
    assert 'class="forest-chart"' in html and '<title id="forest-title">' in html
    assert "harmlessness: \u221230.0 (" in html  # the forest plot's description
    assert 'class="accuracy-chart"' in html
    # The one filter bar, swapping only the table.
    assert 'class="toolbar filter-bar"' in html and 'hx-target="#flips"' in html
    assert 'id="filter-direction"' in html and 'value="regression"' in html
    assert len(_rows(html)) == 20


def test_htmx_gets_the_table_alone_filtered_and_paginated(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(BLOCKS, project)
    client.force_login(members["viewer"])
    partial = client.get(_url(report), {"direction": "correction"}, **HTMX).content.decode()
    assert "<html" not in partial and partial.lstrip().startswith('<div id="flips"')
    assert "filter-bar" not in partial  # the bar stays; only the table is swapped
    rows = _rows(partial)
    assert rows and {(css, domain, direction) for css, _, domain, direction in rows} == {
        ("correction", "helpfulness", "correction")
    }
    assert "12 of 30 flipped pairs match the filter" in partial
    # The other changes (gold ties) are their own kind, neither regression nor correction.
    other = _rows(client.get(_url(report), {"direction": "other"}, **HTMX).content.decode())
    assert len(other) == 6 and {row[2] for row in other} == {"style"}
    # Page 2 keeps the filter in its links and shows the rest.
    first = client.get(_url(report), **HTMX).content.decode()
    assert 'hx-get="?page=2"' in first and 'hx-target="#flips"' in first
    second = client.get(_url(report), {"page": "2"}, **HTMX).content.decode()
    assert len(_rows(second)) == 10
    assert not {row[1] for row in _rows(first)} & {row[1] for row in _rows(second)}
    harmless = client.get(_url(report), {"domain": "harmlessness"}, **HTMX).content.decode()
    assert {row[2] for row in _rows(harmless)} == {"harmlessness"}
    assert "page=" not in harmless  # 12 rows: one page


def test_a_correction_is_not_drawn_as_a_regression(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(BLOCKS, project)
    client.force_login(members["viewer"])
    html = client.get(_url(report), {"domain": "helpfulness"}).content.decode()
    body = html[html.index('<div id="flips"') :]
    assert 'class="flip flip-correction"' in body and "flip-regression" not in body
    assert "\u25b2 correction" in body and "regression</span>" not in body
    harmful = client.get(_url(report), {"domain": "harmlessness"}).content.decode()
    body = harmful[harmful.index('<div id="flips"') :]
    assert 'class="badge direction-tag regression"' in body and "\u25bc regression" in body
    assert "flip-correction" not in body


def test_statistics_link_to_the_flips_and_runs_behind_them(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(BLOCKS, project)
    client.force_login(members["viewer"])
    html = client.get(_url(report)).content.decode()
    assert 'href="?domain=harmlessness&amp;direction=regression#flipped-pairs"' in html
    assert 'href="?domain=helpfulness&amp;direction=correction#flipped-pairs"' in html
    assert 'href="?direction=regression#flipped-pairs"' in html  # all pairs
    assert 'href="?domain=style#flipped-pairs"' in html
    run_url = reverse(
        "judging:detail", kwargs={"project": project.slug, "run": report.candidate_run_id}
    )
    assert f'href="{run_url}?domain=harmlessness#run-pairs"' in html
    # Following one: the filtered table on a full page, its filter shown as chosen.
    followed = client.get(_url(report), {"domain": "harmlessness", "direction": "regression"})
    page = followed.content.decode()
    assert {row[2] for row in _rows(page)} == {"harmlessness"} and len(_rows(page)) == 12
    assert '<option value="regression" selected>' in page


def test_each_flip_links_to_both_runs_judgments_and_expands(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    report = _report(BLOCKS, project)
    client.force_login(members["viewer"])
    html = client.get(_url(report), {"domain": "style"}).content.decode()
    rows = _rows(html)
    assert len(rows) == 6
    for _, pair_id, _, _ in rows:
        for run in (report.baseline_run_id, report.candidate_run_id):
            for order in ("AB", "BA"):
                href = f'href="/p/{project.slug}/runs/{run}/pairs/{pair_id}/{order}/"'
                assert href in html
    assert html.count('<details class="flip-details">') == 6
    assert "baseline reasoning (BA)" in html


def test_hostile_text_in_the_report_is_escaped(
    project: Any, members: dict[str, Any], client: Any
) -> None:
    evil = '<script>alert("d")</script>'
    blocks = (
        Block(evil, 30, gold="A", baseline="A", candidate="B", response_b=f"<b onclick=1>{LONG}"),
        Block("plain", 30, gold="A", baseline="B", candidate="A"),
    )
    report = _report(blocks, project)
    client.force_login(members["viewer"])
    for query in ({}, {"domain": evil}):
        for headers in ({}, HTMX):
            html = client.get(_url(report), query, **headers).content.decode()
            assert "<script>alert" not in html and "<b onclick" not in html
            assert "&lt;script&gt;alert(&quot;d&quot;)&lt;/script&gt;" in html
    filtered = client.get(_url(report), {"domain": evil}, **HTMX).content.decode()
    assert len(_rows(filtered)) == 20  # the hostile domain is a domain like any other
