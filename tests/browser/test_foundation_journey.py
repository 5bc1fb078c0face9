"""Sign in, see the project dashboard with the role's navigation, sign out; at two widths."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import screenshot


@pytest.mark.browser
def test_sign_in_dashboard_sign_out(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    login(page, members["viewer"])
    page.goto(f"/p/{project.slug}/")
    assert page.locator("h1").inner_text() == project.name
    nav = page.locator("nav.mainnav").inner_text()
    assert "Annotate" not in nav  # viewers do not annotate
    screenshot(page, "foundation-dashboard")

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    # Narrow screens: nothing overflows horizontally.
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    screenshot(page, "foundation-dashboard-narrow")

    # On a phone the links and the sign-out button sit behind the menu button.
    assert not page.get_by_role("button", name="Sign out").is_visible()
    page.click(".nav-toggle")
    page.click("text=Sign out")
    page.wait_for_url("**/accounts/login/")
    page.goto(f"/p/{project.slug}/")
    assert "/accounts/login/" in page.url


@pytest.mark.browser
def test_wrong_password_shows_an_error(page: Any, members: dict[str, Any]) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", members["viewer"].username)
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert "/accounts/login/" in page.url
