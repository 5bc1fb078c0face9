"""Every page of the studio, found from the URL patterns and the route table, holds at a phone's
width (390 px: the document is never wider than the window) and passes axe-core's automated
accessibility check.

A page is any readable route outside the API and the site admin whose answer is a whole HTML
document for a project admin (assigned to the world's annotation queue, so the labelling page is
one of them); htmx fragments, downloads and redirects are not pages. The walk is made again
signed in as an annotator, whose screens differ (their queues, the labelling page in each of its
states: a pair to label, the keyboard help open, nothing left). A new page is covered without
editing this file. The few axe rules not enforced are listed in ``AXE_EXCEPTIONS``, each
with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client

from tests.conftest import screenshot
from tests.core.test_route_permissions import _all_routes, _table_key, _url
from tests.routes import SUPERUSER, route_table
from tests.world import build_world

PHONE = {"width": 390, "height": 844}

# axe rules not enforced, each with its reason: {rule id: why}. None today: every page passes
# every rule axe-core runs by default (WCAG 2.0/2.1 A and AA and best practices). Keep it short:
# an entry is a known gap, never a way to silence a new page.
AXE_EXCEPTIONS: dict[str, str] = {}

# The widest element, to name in a failure: what makes the page wider than the window.
WIDEST = """() => {
  const limit = document.documentElement.clientWidth;
  let worst = null;
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > limit + 1 && (!worst || r.right > worst.right)) {
      worst = {right: Math.round(r.right), tag: el.tagName.toLowerCase(), cls: el.className};
    }
  }
  return worst;
}"""


def _is_document(response: Any) -> bool:
    return (
        response.status_code == 200
        and response.get("Content-Type", "").startswith("text/html")
        and response.content.lstrip()[:15].lower() == b"<!doctype html>"
    )


def _pages(world: dict[str, Any], role: str = "admin") -> list[str]:
    """The URL of every page ``role`` may open, from the URL patterns and the route table."""
    table = route_table()
    client = Client()
    client.force_login(world["users"][role])
    pages = []
    for name, args in _all_routes():
        route = table[_table_key(name)]
        if name.startswith("admin:") or route.access == SUPERUSER or "GET" not in route.methods:
            continue
        url = _url(name, args, route, world)
        if url.startswith("/api/"):
            continue
        if _is_document(client.get(url)):
            pages.append(url)
    return pages


def _check(page: Any, axe: Axe, url: str, problems: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    _check_here(page, axe, url, problems)


def _check_here(page: Any, axe: Axe, url: str, problems: list[str]) -> None:
    """Width and axe-core on the page as it is now (``url`` names it in a failure)."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        problems.append(f"{url}: {overflow}px wider than the window, {page.evaluate(WIDEST)}")
        screenshot(page, "too-wide" + url.replace("/", "_"))
    results = axe.run(page)
    for violation in results.response["violations"]:
        if violation["id"] in AXE_EXCEPTIONS:
            continue
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        problems.append(f"{url}: axe {violation['id']} ({violation['impact']}) at {targets}")


@pytest.mark.browser
def test_every_page_fits_a_phone_and_passes_axe(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    world = build_world(project, members)
    pages = _pages(world)
    # A guard against an empty walk: pages of every app are among them.
    for url in (
        f"/p/{project.slug}/",
        f"/p/{project.slug}/members/",
        "/projects/new/",
        f"/p/{project.slug}/annotate/{world['queue'].pk}/label/",
        f"/p/{project.slug}/alerts/{world['alert'].pk}/",
    ):
        assert url in pages, (url, pages)

    axe = Axe()
    problems: list[str] = []
    page.set_viewport_size(PHONE)
    _check(page, axe, "/accounts/login/", problems)  # signed out
    login(page, members["admin"])
    for url in pages:
        _check(page, axe, url, problems)

    print(f"{len(pages) + 1} pages checked at 390 px with axe-core")
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_every_page_an_annotator_opens_fits_a_phone_and_passes_axe(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    from playwright.sync_api import expect

    world = build_world(project, members)
    pages = _pages(world, role="annotator")
    queues = f"/p/{project.slug}/annotate/"
    label = f"/p/{project.slug}/annotate/{world['queue'].pk}/label/"
    assert queues in pages and label in pages, pages
    # An annotator opens no admin page: the walk follows the role.
    assert f"/p/{project.slug}/members/" not in pages

    axe = Axe()
    problems: list[str] = []
    page.set_viewport_size(PHONE)
    login(page, members["annotator"])
    for url in pages:
        _check(page, axe, url, problems)
    # The labelling page's other states: the keyboard help open, then the queue done.
    page.goto(label)
    page.wait_for_load_state("networkidle")
    page.keyboard.press("?")
    expect(page.locator("#keys-dialog")).to_be_visible()
    _check_here(page, axe, label + " (keyboard help open)", problems)
    page.keyboard.press("?")
    expect(page.locator("#keys-dialog")).to_be_hidden()
    total = int(page.locator("[data-progress-total]").inner_text())
    for done in range(1, total + 1):
        page.keyboard.press("1")
        expect(page.locator("[data-progress-done]")).to_have_text(str(done))
    expect(page.locator(".all-done")).to_be_visible()
    page.wait_for_load_state("networkidle")
    # htmx settles the swapped-in workspace from the old one's faded "busy" look; axe must read
    # the colours once that transition has ended, as the annotator sees them.
    page.wait_for_function(
        "() => getComputedStyle(document.getElementById('workspace')).opacity === '1'"
    )
    _check_here(page, axe, label + " (after the last pair)", problems)
    page.goto(label)
    page.wait_for_load_state("networkidle")
    _check_here(page, axe, label + " (nothing left)", problems)
    screenshot(page, "annotator-nothing-left-narrow")

    print(f"{len(pages) + 3} annotator pages and states checked at 390 px with axe-core")
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_the_menu_button_opens_the_navigation_on_a_phone(
    page: Any, login: Any, members: dict[str, Any], project: Any
) -> None:
    page.set_viewport_size(PHONE)
    login(page, members["admin"])
    page.goto(f"/p/{project.slug}/")
    toggle = page.locator(".nav-toggle")
    nav_link = page.locator("nav.mainnav a", has_text="Members")
    assert toggle.is_visible() and not nav_link.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert nav_link.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    screenshot(page, "menu-open-narrow")
    nav_link.click()
    page.wait_for_url(f"**/p/{project.slug}/members/")
    # Wide screens show the links and no button.
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not page.locator(".nav-toggle").is_visible()
    assert page.locator("nav.mainnav a", has_text="Members").is_visible()
