"""The rubric editor tells the truth about saving, empties the new-criterion box after adding,
and warns before publishing a criterion without a description."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from apps.rubrics import services
from apps.rubrics.models import RubricVersion

pytestmark = pytest.mark.browser

TYPE_ONE_CHARACTER = """() => {
  const box = document.querySelector('#f-instructions');
  box.value += '!';
  box.dispatchEvent(new Event('input', {bubbles: true}));
  const status = document.querySelector('#save-status');
  return [status.textContent.trim(), status.dataset.state];
}"""


def test_save_status_new_criterion_box_and_empty_description_warning(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    author = members["author"]
    rubric = services.rubric_create(actor=author, project=project, name="Editor details")
    draft = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        instructions="Decide which response is better.",
        criteria=[{"title": "Correct", "description": "The answer is right.", "weight": 1}],
    )
    login(page, author)
    page.goto(f"/p/{project.slug}/rubrics/{rubric.pk}/v/{draft.pk}/edit/")
    page.wait_for_load_state()
    status = page.locator("#save-status")
    expect(status).to_have_attribute("data-state", "saved")

    # A keystroke makes the status "Unsaved changes" at once, before anything is sent...
    assert page.evaluate(TYPE_ONE_CHARACTER) == ["Unsaved changes", "dirty"]
    # ...and it says saved only once the server has the text.
    expect(status).to_have_attribute("data-state", "saved")
    expect(status).to_contain_text("Saved")
    draft.refresh_from_db()
    assert draft.instructions == "Decide which response is better.!"

    # A save that never reaches the server is not reported as saved.
    page.route("**/edit/field/", lambda route: route.abort())
    page.evaluate(TYPE_ONE_CHARACTER)
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("Not saved")
    page.unroute("**/edit/field/")
    page.evaluate(TYPE_ONE_CHARACTER)
    expect(status).to_have_attribute("data-state", "saved")
    draft.refresh_from_db()
    assert draft.instructions == "Decide which response is better.!!!"

    # Adding a criterion empties the box for the next one.
    page.fill("#new-criterion-title", "Concise")
    page.get_by_role("button", name="Add criterion").click()
    expect(page.locator("#criteria > li.criterion")).to_have_count(2)
    expect(page.locator("#new-criterion-title")).to_have_value("")
    assert RubricVersion.objects.get(pk=draft.pk).criteria.filter(title="Concise").exists()

    # Publishing with "Concise" still undescribed asks first; declining publishes nothing.
    messages: list[str] = []

    def decline(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.fill("#publish-message", "Add concision.")
    page.get_by_role("button", name=f"Publish v{draft.number}").click()
    assert len(messages) == 1 and "“Concise”" in messages[0] and "no description" in messages[0]
    draft.refresh_from_db()
    assert not draft.is_published

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Publish v{draft.number}").click()
    expect(page.locator(".messages")).to_contain_text(f"Published v{draft.number}")
    draft.refresh_from_db()
    assert draft.is_published
