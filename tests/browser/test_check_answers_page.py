"""A judge check's sanity answers, every answer opened, still fit a phone and pass axe; the
parse-rate figure leads to the table."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse

from apps.judging import check as checks
from tests.browser.test_every_page import PHONE, _check_here
from tests.conftest import screenshot
from tests.factories import make_judge


@pytest.mark.browser
def test_opened_sanity_answers_fit_a_phone_and_pass_axe(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    judge = make_judge(project, name="Offline <em>judge</em>")
    check = checks.judge_check_execute(
        check=checks.judge_check_start(actor=None, judge=judge, dispatch=False)
    )
    url = reverse(
        "judging:check", kwargs={"project": project.slug, "judge": judge.pk, "check": check.pk}
    )
    page.set_viewport_size(PHONE)
    login(page, members["viewer"])
    page.goto(url)
    page.locator("[data-figure-link=sanity-valid]").click()
    assert page.evaluate("location.hash") == "#sanity-answers"
    answers = page.locator("#sanity-answers")
    summaries = answers.locator("summary")
    assert summaries.count() == check.metrics["sanity"]["n_requests"]
    for index in range(summaries.count()):
        summaries.nth(index).click()
    assert answers.locator("details[open]").count() == summaries.count()
    assert answers.locator("[data-raw-answer]").first.is_visible()

    problems: list[str] = []
    _check_here(page, Axe(), url, problems)
    screenshot(page, "check-sanity-answers-open")
    assert not problems, "\n".join(problems)
