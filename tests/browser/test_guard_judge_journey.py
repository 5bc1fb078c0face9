"""An admin gives a guarded rubric a new judge: the guard page says the new judge waits for its
check and links the flagged judge drift report; the admin accepts it there with a reason, and
the guard page says it is cleared. A judge edited where no one listened is checked from the
guard page on the admin's click."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.drift import services as drift_services
from apps.judging.models import JudgeConfig
from tests.conftest import screenshot
from tests.factories import SAFE_CRITERIA, make_judge, make_reference_set
from tests.forensics.factories import EDITED_INSTRUCTIONS, judged, publish


@pytest.mark.browser
def test_a_flagged_new_judge_waits_on_the_guard_page_until_an_admin_accepts_it(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    admin = members["admin"]
    v1 = publish(project, criteria=SAFE_CRITERIA)
    v2 = publish(
        project, rubric=v1.rubric, criteria=SAFE_CRITERIA, instructions=EDITED_INSTRUCTIONS
    )
    reference = make_reference_set(project, n_pairs=40)
    old = make_judge(project, name="Offline")
    judged(v2, old, reference)
    make_judge(project, name="Offline, biased", params={"position_bias": 0.6})
    drift_services.rubric_guard_update(
        actor=admin,
        rubric=v1.rubric,
        enabled=True,
        reference_set=reference,
        judge=old,
        min_effect=0.02,
        tolerance=0.01,
        alpha=0.05,
    )
    login(page, admin)
    page.goto(reverse("drift:guard", kwargs={"project": project.slug, "rubric": v1.rubric.pk}))
    page.get_by_label("Judge", exact=True).select_option(label="Offline, biased")
    page.get_by_role("button", name="Save guard").click()
    page.get_by_text("saved").first.wait_for()
    page.goto(reverse("drift:guard", kwargs={"project": project.slug, "rubric": v1.rubric.pk}))
    card = page.get_by_test_id("guard-judge")
    assert "Checks are judged by Offline." in card.inner_text()
    state = card.get_by_test_id("guard-judge-state").inner_text()
    assert "Offline, biased is requested and not cleared yet" in state
    screenshot(page, "guard-judge-waiting")

    card.get_by_test_id("guard-judge-report").click()
    decision = page.get_by_test_id("judge-acceptance")
    decision.get_by_label("Why the new judge is fit despite this report").fill(
        "The bias only splits near-ties; reviewed by hand."
    )
    decision.get_by_role("button", name="Accept the new judge").click()
    assert "reviewed by hand" in page.get_by_test_id("judge-acceptance").inner_text()

    page.goto(reverse("drift:guard", kwargs={"project": project.slug, "rubric": v1.rubric.pk}))
    state = page.get_by_test_id("guard-judge-state").inner_text()
    assert "Offline, biased is cleared and judges from the next check" in state


@pytest.mark.browser
def test_an_admin_checks_a_judge_edited_behind_the_guards_back_from_the_guard_page(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    """A config edited where no one listened (a raw update) has no report: the guard page
    offers the check, and the admin's click starts it and links it."""
    admin = members["admin"]
    v1 = publish(project, criteria=SAFE_CRITERIA)
    reference = make_reference_set(project, n_pairs=20)
    judge = make_judge(project, name="Offline <em>edited</em>")
    judged(v1, judge, reference)
    drift_services.rubric_guard_update(
        actor=admin,
        rubric=v1.rubric,
        enabled=True,
        reference_set=reference,
        judge=judge,
        min_effect=0.02,
        tolerance=0.01,
        alpha=0.05,
    )
    JudgeConfig.objects.filter(pk=judge.pk).update(
        params={"position_bias": 0.6}, updated_at=timezone.now()
    )
    login(page, admin)
    page.goto(reverse("drift:guard", kwargs={"project": project.slug, "rubric": v1.rubric.pk}))
    card = page.get_by_test_id("guard-judge")
    assert "Offline <em>edited</em> was edited in place" in card.inner_text()
    card.get_by_role("button", name="Check the guard's judge now").click()
    page.get_by_text("started for the guard").first.wait_for()
    card = page.get_by_test_id("guard-judge")
    assert card.get_by_role("button", name="Check the guard's judge now").count() == 0
    card.get_by_test_id("guard-judge-report").click()
    assert "Accept the new judge" in page.get_by_test_id("judge-acceptance").inner_text()
    screenshot(page, "guard-judge-checked-on-demand")
