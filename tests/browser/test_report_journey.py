"""A viewer reads a drift report with 200 flipped pairs: the first screen answers the question
(decision, flags, the change per domain next to the accuracy bars), a jump link reaches the
flipped pairs, the domain filter and page 2 come through htmx, a row expands to its evidence and
a link opens the candidate run's judgment of that pair."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from apps.drift import services
from tests.conftest import screenshot
from tests.drift.factories import Block, make_scenario

PHONE = {"width": 390, "height": 844}
# 120 regressions in one domain, 80 corrections in another, and pairs that did not change.
BLOCKS = (
    Block("harmlessness", 120, gold="A", baseline="A", candidate="B"),
    Block("harmlessness", 40, gold="A", baseline="A", candidate="A"),
    Block("helpfulness", 80, gold="A", baseline="B", candidate="A"),
    Block("helpfulness", 40, gold="B", baseline="B", candidate="B"),
)


def _axe_problems(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"axe {v['id']} ({v['impact']}) at {[', '.join(n['target']) for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
    ]


def _domains(page: Any) -> list[str]:
    return page.locator("#flips tbody.flip").evaluate_all("els => els.map(e => e.dataset.domain)")


@pytest.mark.browser
def test_navigate_a_report_with_200_flips(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    scenario = make_scenario(project, BLOCKS)
    report = services.drift_report_create(
        actor=None,
        baseline_run=scenario.baseline_run,
        candidate_run=scenario.candidate_run,
        dispatch=False,
    )
    report = services.drift_report_build(report_id=report.pk)
    assert len(report.stats["flipped"]) == 200
    login(page, members["viewer"])
    url = f"/p/{project.slug}/alerts/reports/{report.pk}/"
    page.goto(url)

    # The first screen: the decision, the flags and both charts, above the fold of 900 px.
    for selector in ("#alert-panel", "#flags", ".forest-chart", ".accuracy-chart"):
        top = page.locator(selector).first.evaluate("el => el.getBoundingClientRect().top")
        assert top < 900, (selector, top)
    assert page.locator(".forest-chart g.row.flagged[data-domain='harmlessness']").count() == 1
    assert len(_domains(page)) == 20
    assert _axe_problems(page) == []
    screenshot(page, "report-first-screen")

    # A jump link brings the flipped pairs to the top of the window.
    page.click(".jump-links a[href='#flipped-pairs']")
    page.wait_for_url("**#flipped-pairs")
    top = page.locator("#flipped-pairs").evaluate("el => el.getBoundingClientRect().top")
    assert 0 <= top < 50

    # The domain filter swaps the table through htmx: same document, new address.
    page.evaluate("window.__samePage = true")
    page.select_option("#filter-domain", "helpfulness")
    page.wait_for_url(re.compile(r"domain=helpfulness"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#flips tbody.flip')]"
        ".every(e => e.dataset.domain === 'helpfulness')"
    )
    assert set(_domains(page)) == {"helpfulness"} and len(_domains(page)) == 20
    assert page.locator("[data-flips-count]").get_attribute("data-flips-count") == "80"
    tags = page.locator("#flips [data-direction-tag]").all_inner_texts()
    assert set(tags) == {"\u25b2 correction"}  # a correction is never tagged a regression
    first_page = page.locator("#flips tbody.flip").first.get_attribute("data-pair")

    # Page 2, still through htmx and still filtered.
    page.click("#flips a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    page.wait_for_function(
        f"() => document.querySelector('#flips tbody.flip').dataset.pair !== '{first_page}'"
    )
    assert "domain=helpfulness" in page.url
    assert set(_domains(page)) == {"helpfulness"} and len(_domains(page)) == 20
    assert "Page 2 of 4" in page.locator("#flips .pagination").inner_text()
    assert page.evaluate("window.__samePage") is True  # never a full reload

    # A row expands to its evidence, then opens the candidate's judgment of that pair.
    row = page.locator("#flips tbody.flip").nth(1)
    pair_id = row.get_attribute("data-pair")
    assert not row.locator(".prompt").is_visible()
    row.locator("summary").click()
    assert row.locator(".prompt").is_visible()
    assert "candidate reasoning (AB)" in row.locator(".rationales").inner_text()
    screenshot(page, "report-flips-expanded")
    row.locator("[data-judgment='candidate-BA']").click()
    page.wait_for_url(f"**/runs/{report.candidate_run_id}/pairs/{pair_id}/BA/")
    assert page.locator("h1").inner_text() == f"Pair {pair_id}, order B,A"

    # Back on the report at a phone's width: nothing wider than the window, still accessible.
    page.set_viewport_size(PHONE)
    page.goto(url + "?domain=harmlessness&page=3")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert set(_domains(page)) == {"harmlessness"}
    assert _axe_problems(page) == []
    screenshot(page, "report-phone")
