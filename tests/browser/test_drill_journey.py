"""A viewer goes from a figure of a run (a domain's accuracy) to the evidence behind one of its
judgments in two clicks: the domain's pairs, then a pair's judgment page; and from a count of the
run's progress (From cache) to the judgments it counts, then to one of them."""

from __future__ import annotations

from typing import Any

import pytest

from apps.judging import services
from apps.judging.models import Judgment
from tests.conftest import screenshot
from tests.factories import make_dataset, make_judge, make_reference_set, make_version


@pytest.mark.browser
def test_from_a_domain_figure_to_a_judgment(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=make_judge(project, name="Offline demo judge"),
        reference_set=make_reference_set(project, n_pairs=8, name="Drill reference"),
        dispatch=False,
    )
    run = services.run_execute(run=run)
    login(page, members["viewer"])
    page.goto(f"/p/{project.slug}/runs/{run.pk}/")

    # Click one: the domain's row of the accuracy table lists that domain's pairs.
    page.click(".accuracy-table tr[data-domain='harmlessness'] a")
    page.wait_for_url("**?domain=harmlessness*")
    domains = page.locator(".pairs-table tbody td:nth-child(2)").all_inner_texts()
    assert domains and set(domains) == {"harmlessness"}

    # Click two: a pair's id opens its judgment in order A,B.
    link = page.locator("[data-judgment-link]").first
    pair_id = int(link.inner_text())
    link.click()
    page.wait_for_url(f"**/runs/{run.pk}/pairs/{pair_id}/AB/")
    judgment = Judgment.objects.get(run=run, pair_id=pair_id, order="AB")
    assert page.locator("h1").inner_text() == f"Pair {pair_id}, order A,B"
    assert page.locator("[data-verdict]").inner_text() == judgment.verdict
    assert page.locator("[data-verdict-source]").inner_text() == judgment.verdict_source
    roles = page.locator("[data-message-role]").evaluate_all(
        "els => els.map(e => e.dataset.messageRole)"
    )
    assert roles == ["system", "user"]
    screenshot(page, "drill-judgment")

    # The other order is one more click away.
    page.click("[data-other-order]")
    page.wait_for_url(f"**/runs/{run.pk}/pairs/{pair_id}/BA/")
    assert page.locator("h1").inner_text() == f"Pair {pair_id}, order B,A"


@pytest.mark.browser
def test_from_the_cache_figure_to_the_cached_judgments(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    version, judge = make_version(project), make_judge(project, name="Offline demo judge")
    dataset, pairs = make_dataset(project, n_pairs=6)
    for reference_set in (
        make_reference_set(project, pairs=pairs, name="First"),
        make_reference_set(
            project,
            pairs=[*pairs, *make_dataset(project, n_pairs=3, start=6, dataset=dataset)[1]],
            name="Grown",
        ),
    ):
        run = services.run_execute(
            run=services.run_start(
                actor=None,
                rubric_version=version,
                judge=judge,
                reference_set=reference_set,
                dispatch=False,
            )
        )
    assert run.cached == 12
    login(page, members["viewer"])
    page.goto(f"/p/{project.slug}/runs/{run.pk}/")

    # One click: the figure opens the run's judgments, filtered to those read from the cache.
    page.click("[data-progress-link='cached']")
    page.wait_for_url(f"**/runs/{run.pk}/judgments/?cached=yes")
    assert page.locator("#filter-cached").input_value() == "yes"
    assert page.locator("[data-judgment-row]").count() == run.cached
    shown = {int(text) for text in page.locator("[data-judgment-link]").all_inner_texts()}
    assert shown == {pair.pk for pair in pairs}
    screenshot(page, "drill-cached-judgments")

    # The filter bar changes it in place: the judgments asked afresh (3 new pairs, both orders).
    page.select_option("#filter-cached", "no")
    page.wait_for_function("() => document.querySelectorAll('[data-judgment-row]').length === 6")
    assert page.locator("[data-judgment-row][data-cached='yes']").count() == 0
    assert "cached=no" in page.url

    # One more click: a row opens that judgment's evidence.
    first = page.locator("[data-judgment-link]").first
    pair_id = int(first.inner_text())
    first.click()
    page.wait_for_url(f"**/runs/{run.pk}/pairs/{pair_id}/AB/")
    assert page.locator("[data-cached]").inner_text() == "no"
