"""An admin manages the project's members from the navigation: add, change a role, remove."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Membership, Role
from tests.conftest import screenshot

pytestmark = pytest.mark.browser


def test_admin_adds_changes_and_removes_a_member(
    page: Any, login: Any, members: dict[str, Any], project: Any, make_user: Any
) -> None:
    make_user("newcomer")
    login(page, members["admin"])
    page.goto(f"/p/{project.slug}/")
    page.locator("nav.mainnav").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()

    page.fill("#id_username", "nobody-here")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".add-member .errorlist")).to_contain_text("No user is named")

    page.fill("#id_username", "newcomer")
    page.select_option("#id_role", "annotator")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".messages")).to_contain_text("newcomer is now annotator")
    row = page.locator('tr[data-member="newcomer"]')
    expect(row).to_be_visible()
    membership = Membership.objects.get(project=project, user__username="newcomer")
    assert membership.role == Role.ANNOTATOR

    row.get_by_label("Role of newcomer").select_option("author")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator(".messages")).to_contain_text("newcomer is now author")
    membership.refresh_from_db()
    assert membership.role == Role.AUTHOR
    screenshot(page, "members-journey")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-member="newcomer"]').get_by_role("button", name="Remove").click()
    expect(page.locator(".messages")).to_contain_text("newcomer was removed")
    expect(page.locator('tr[data-member="newcomer"]')).to_have_count(0)
    assert not Membership.objects.filter(project=project, user__username="newcomer").exists()
