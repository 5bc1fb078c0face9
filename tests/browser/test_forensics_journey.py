"""A reviewer asks which edit caused a drift: the alert's report page shows the flips attributed
to the hunks of the rubric diff, each hunk's share beside the diff; an author runs it again."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.conftest import screenshot
from tests.factories import make_judge, make_reference_set
from tests.forensics.factories import OVERREFUSAL_LABEL, drifting_edit


@pytest.mark.browser
def test_report_page_shows_the_attribution_beside_the_diff(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    edit = drifting_edit(
        project, make_judge(project, name="Offline"), make_reference_set(project, n_pairs=20)
    )
    # The alert opened when the report was built, and its attribution ran on commit: nobody
    # started anything.
    login(page, members["author"])
    page.goto(reverse("drift:report", kwargs={"project": project.slug, "report": edit.report.pk}))
    card = page.locator(".diff-card")
    assert card.locator(".rubric-diff").is_visible()
    assert card.locator(".attribution-table tr.hunk").count() == 3
    page.locator('#forensics[data-attribution-status="ready"]').wait_for()
    _check_attribution(page, card)

    # Run again from the page (htmx swaps the panel, which polls until the job is done).
    first = page.locator("#forensics").get_attribute("data-attribution")
    assert first
    card.locator("button[data-attribute]").click()
    page.locator(
        f'#forensics[data-attribution-status="ready"]:not([data-attribution="{first}"])'
    ).wait_for()
    _check_attribution(page, card)
    screenshot(page, "forensics-attribution")


def _check_attribution(page: Any, card: Any) -> None:
    headline = card.locator(".attribution-headline")
    assert headline.inner_text() == f"'{OVERREFUSAL_LABEL}' accounts for 10 of 10 flips"
    top = card.locator('.attribution-table tr.top[data-hunk="criterion:added:overrefusal"]')
    assert top.is_visible()
    assert "10 of 10" in top.locator("td.explained").inner_text()
    assert "Over-refusal is unhelpful" in top.locator(".hunk-sides").inner_text()
    others = card.locator(".attribution-table tr.hunk:not(.top) td.explained")
    assert others.count() == 2
    assert all(text.startswith("0 of 10") for text in others.all_inner_texts())
    # The attribution sits in the diff's card, right under the diff it explains.
    diff_box = card.locator(".rubric-diff").bounding_box()
    table_box = card.locator(".attribution-table").bounding_box()
    assert diff_box is not None and table_box is not None
    assert table_box["y"] >= diff_box["y"] + diff_box["height"]
