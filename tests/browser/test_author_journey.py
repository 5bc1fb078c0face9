"""An author's journey through the rubric editor, in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from apps.rubrics import services
from apps.rubrics.models import RubricVersion
from tests.conftest import screenshot

pytestmark = pytest.mark.browser


def test_author_edits_reorders_previews_publishes_and_diffs(
    page: Any, login: Any, live_server: Any, members: dict[str, Any], project: Any
) -> None:
    author = members["author"]
    rubric = services.rubric_create(actor=author, project=project, name="Harmlessness judge")
    first = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        instructions="Decide which response is safer.",
        criteria=[
            {"title": "Avoid harm", "description": "Refuse dangerous requests.", "weight": 3},
            {"title": "Helpful", "description": "Answer the question.", "weight": 1},
        ],
    )
    services.rubric_version_publish(actor=author, version=first, message="First version.")

    login(page, author)
    page.goto(f"/p/{project.slug}/rubrics/")
    page.get_by_role("link", name="Harmlessness judge").click()
    page.get_by_role("button", name="New draft from v1").click()
    expect(page.get_by_role("heading", name="Draft v2")).to_be_visible()
    # The heading shows as soon as the page is parsed; typing before the deferred scripts
    # have run (htmx wires the autosave on DOMContentLoaded) would not be saved.
    page.wait_for_load_state()
    draft = RubricVersion.objects.get(rubric=rubric, number=2)
    helpful = draft.criteria.get(key="helpful")

    # Edit a criterion: saved over htmx, no reload.
    marker = page.evaluate("() => (window.__journey = 'same page')")
    page.fill(f"#crit-{helpful.pk}-description", "Answer the request fully, with every detail.")
    expect(page.locator("#save-status")).to_contain_text("Saved criterion")
    # The preview follows the saved draft.
    expect(page.locator("#preview pre")).to_contain_text("fully, with every detail")
    tokens_before = int(page.locator("#token-count").inner_text())

    # Reorder: move "Helpful" above "Avoid harm".
    page.locator(f"#crit-{helpful.pk} .move-up").click()
    expect(page.locator("#save-status")).to_contain_text("Moved criterion")
    expect(page.locator("#criteria > li.criterion").first).to_have_attribute(
        "data-id", str(helpful.pk)
    )
    preview = page.locator("#preview pre")
    expect(preview).to_contain_text("1. Helpful")
    assert page.evaluate("() => window.__journey") == marker  # never reloaded
    assert int(page.locator("#token-count").inner_text()) == tokens_before
    screenshot(page, "author-journey-editor")

    # Publish with a message.
    page.fill("#publish-message", "Ask for complete answers; helpfulness first.")
    page.get_by_role("button", name="Publish v2").click()
    expect(page.locator(".messages")).to_contain_text("Published v2")
    draft.refresh_from_db()
    assert draft.is_published
    assert draft.message == "Ask for complete answers; helpfulness first."

    # The diff highlights the changed words and lists the move first.
    page.get_by_role("link", name="Diff vs v1").click()
    expect(page.locator(".diff-structure")).to_contain_text("moved")
    expect(page.locator(".diff-side.new ins").first).to_contain_text("fully")
    expect(page.locator(".diff-side.old del").first).to_contain_text("question")
    expect(page.locator(".summary-line")).to_contain_text("1 criterion changed, 1 moved")
    screenshot(page, "author-journey")


def test_author_drags_a_criterion_to_reorder(
    page: Any, login: Any, live_server: Any, members: dict[str, Any], project: Any
) -> None:
    author = members["author"]
    rubric = services.rubric_create(actor=author, project=project, name="Drag judge")
    draft = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        criteria=[{"title": "First"}, {"title": "Second"}, {"title": "Third"}],
    )
    login(page, author)
    page.goto(f"/p/{project.slug}/rubrics/{rubric.pk}/v/{draft.pk}/edit/")
    third = draft.criteria.get(key="third")
    first = draft.criteria.get(key="first")
    # The drag events themselves, as Chromium would fire them: headless Chromium started by
    # path does not synthesise native drags, so the test dispatches them on the same elements.
    data = page.evaluate_handle("() => new DataTransfer()")
    handle = page.locator(f"#crit-{third.pk} .drag-handle")
    target = page.locator(f"#crit-{first.pk}")
    handle.dispatch_event("dragstart", {"dataTransfer": data})
    target.dispatch_event("dragover", {"dataTransfer": data})
    target.dispatch_event("drop", {"dataTransfer": data})
    handle.dispatch_event("dragend", {"dataTransfer": data})
    expect(page.locator("#save-status")).to_contain_text("Reordered the criteria")
    assert [c.key for c in draft.criteria.all()] == ["third", "first", "second"]
    expect(page.locator("#preview pre")).to_contain_text("1. Third")
