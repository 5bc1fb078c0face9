"""An annotator labels five pairs with the keyboard: A, B, tie, a skip, an undo; progress moves."""

from __future__ import annotations

from typing import Any

import pytest

from apps.annotations.models import Annotation, Assignment, AssignmentStatus
from tests.conftest import screenshot
from tests.factories import criteria_for, make_queue, make_simple_dataset, make_version


@pytest.mark.browser
def test_annotator_labels_with_the_keyboard(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    from playwright.sync_api import expect

    annotator = members["annotator"]
    dataset = make_simple_dataset(project, n=7, domains=("helpfulness", "harmlessness"))
    queue = make_queue(
        project,
        dataset=dataset,
        annotators=[annotator],
        rubric_version=make_version(
            project, criteria=criteria_for("helpful", "harmless"), published=False
        ),
        instructions="Prefer the safer answer.",
        name="Journey queue",
    )
    login(page, annotator)
    page.goto(f"/p/{project.slug}/annotate/")
    page.click("text=Start labelling")
    page.wait_for_url(f"**/annotate/{queue.pk}/label/")

    done = page.locator("[data-progress-done]")
    total = page.locator("[data-progress-total]")
    workspace = page.locator("#workspace")
    expect(done).to_have_text("0")
    expect(total).to_have_text("7")
    expect(page.locator(".guidelines")).to_contain_text("Harmless")

    def press(key: str, notice: str, labelled: int) -> str:
        before = workspace.get_attribute("data-pair")
        page.keyboard.press(key)
        expect(page.locator("[data-notice]")).to_contain_text(notice)
        expect(done).to_have_text(str(labelled))
        return before or ""

    first = press("1", "Saved: A is better", 1)
    second = press("2", "Saved: B is better", 2)
    tied = press("3", "Saved: Tie", 3)
    skipped = press("s", "Skipped", 3)
    expect(total).to_have_text("6")  # the skipped pair went to the pool, not to this annotator
    press("u", "Undone: you had chosen Tie", 2)
    expect(workspace).to_have_attribute("data-pair", tied)
    expect(page.locator(".choice-tie.previous")).to_be_visible()
    again = press("3", "Saved: Tie", 3)
    assert again == tied
    fourth = press("1", "Saved: A is better", 4)
    fifth = press("2", "Saved: B is better", 5)

    page.keyboard.press("?")
    expect(page.locator("#keys-dialog")).to_be_visible()
    screenshot(page, "annotator-journey-keys")
    page.keyboard.press("?")
    expect(page.locator("#keys-dialog")).to_be_hidden()
    screenshot(page, "annotator-journey")

    labels = {
        str(a.pair_id): a.choice
        for a in Annotation.objects.filter(queue=queue, annotator=annotator)
    }
    assert labels == {first: "A", second: "B", tied: "tie", fourth: "A", fifth: "B"}
    assert skipped not in labels
    skipped_row = Assignment.objects.get(queue=queue, pair_id=int(skipped))
    assert skipped_row.status == AssignmentStatus.SKIPPED
    # The page measured the time spent on every pair it sent.
    assert all(
        a.time_spent_ms is not None
        for a in Annotation.objects.filter(queue=queue, annotator=annotator)
    )

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    screenshot(page, "annotator-journey-narrow")


@pytest.mark.browser
def test_admin_reads_agreement_and_adjudicates(
    page: Any, login: Any, members: dict[str, Any], project: Any, make_user: Any
) -> None:
    from playwright.sync_api import expect

    from apps.accounts.models import Role
    from apps.annotations import services

    one = members["annotator"]
    two = make_user("annotator2", project=project, role=Role.ANNOTATOR)
    dataset = make_simple_dataset(project, n=4, domains=("helpfulness", "harmlessness"))
    queue = make_queue(project, dataset=dataset, annotators=[one, two], overlap=2, name="Pairs")
    for annotator, choices in ((one, "AABB"), (two, "ABBA")):
        while (
            assignment := services.assignment_next(queue=queue, annotator=annotator)
        ) is not None:
            index = int(assignment.pair.external_id[1:])
            services.annotation_submit(assignment=assignment, choice=choices[index])

    login(page, members["admin"])
    page.goto(f"/p/{project.slug}/annotate/{queue.pk}/")
    expect(page.locator(".cohen")).to_contain_text("annotator1 · annotator2")
    disputed = page.locator("tr.state-disputed")
    expect(disputed).to_have_count(2)
    row = disputed.first
    row_id = row.get_attribute("id")
    row.locator("select[name=label]").select_option("tie")
    row.locator("input[name=reason]").fill("Both answers are acceptable.")
    row.locator("button[type=submit]").click()
    updated = page.locator(f"#{row_id}")
    expect(updated).to_have_class("adjudication-row state-adjudicated")
    expect(updated).to_contain_text("Saved.")
    assert services.queue_consensus_labels(queue=queue)[int(row_id.split("-")[1])] == (
        "tie",
        "adjudicated",
    )
    screenshot(page, "annotation-queue-admin")
