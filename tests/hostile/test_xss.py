"""Hostile text in every user- and model-supplied field never runs and never becomes markup.

A project with one object of every kind (``tests/world.py``) is filled with XSS payloads: the
project's name, usernames, rubric text (instructions, template, criterion titles and
descriptions), dataset and reference set names, prompts, responses and domains, queue names and
instructions, annotators' rationales, judges' rationales and raw outputs, alert headlines and
reasons. Then every GET page of the project is loaded in Chromium as a superuser, and the
labelling page as an annotator. A page fails when a payload ran (``window.__xss`` set, a dialog
opened, a CSP refusal) or left an element in the DOM (``[data-xss]``, ``img[src=x]``, an ``on*``
attribute, an inline script, a ``javascript:`` link).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db.models import Model, QuerySet
from django.urls import reverse

from apps.accounts.models import Membership, Project, Role
from apps.annotations.models import Adjudication, Annotation, AnnotationQueue
from apps.core.models import AuditEvent
from apps.datasets.models import Dataset, Pair, ReferenceSet
from apps.drift.models import DriftAlert, DriftReport
from apps.judging.models import JudgeConfig, JudgingRun, Judgment
from apps.rubrics.models import Criterion, Rubric, RubricVersion, VersionStatus
from tests.core.test_route_permissions import _all_routes, _table_key
from tests.factories import make_version
from tests.routes import route_table
from tests.world import build_world

# Each payload tries a different way out of the markup it is placed in.
PAYLOADS = (
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "<svg onload=\"window.__xss='svg'\"><circle r=9 data-xss=svg></circle></svg>",
    '"><b data-xss=quote>quote</b>',
    "'><b data-xss=apos>apos</b>",
    "</textarea><script>window.__xss='textarea'</script><b data-xss=textarea>t</b>",
    "</title></option></select><b data-xss=close>close</b>",
    "<a href=\"javascript:window.__xss='href'\" data-xss=link>link</a>",
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\" data-xss=iframe></iframe>",
    '<div hx-get="/" hx-trigger="load" data-xss=htmx>htmx</div>',
    "{{ 7|add:7 }} ${7*7} <b data-xss=tmpl>tmpl</b>",
    "<details open ontoggle=\"window.__xss='toggle'\" data-xss=details>",
)
JS_URL = "javascript:window.__xss='url'//"
# Domains reach tables, filters and per-domain statistics; they replace the world's two.
WORLD_DOMAINS = ("helpfulness", "harmlessness")

# What an escaped payload never leaves in the DOM.
DETECT = """() => {
  const bad = [];
  const sel = '[data-xss], img[src="x"], svg[onload], iframe[srcdoc], a[href^="javascript:" i],' +
    ' [src^="javascript:" i], [action^="javascript:" i], details[ontoggle],' +
    ' script:not([src]):not([type="application/json"])';
  for (const el of document.querySelectorAll(sel)) bad.push(el.outerHTML.slice(0, 160));
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) bad.push(el.outerHTML.slice(0, 160));
    }
  }
  return {
    xss: window.__xss || null,
    bad: bad,
    shown: document.body ? document.body.innerText.includes('data-xss') : false,
  };
}"""


def _cycle() -> Callable[[str], str]:
    """Hand out the payloads in turn, each tagged with the field it went into."""
    state = {"i": 0}

    def next_payload(tag: str) -> str:
        payload = PAYLOADS[state["i"] % len(PAYLOADS)]
        state["i"] += 1
        return f"{tag}{payload}"

    return next_payload


def _hostile_json(value: Any, domains: dict[str, str]) -> Any:
    """The same JSON with the world's domain names replaced by payloads (keys and values)."""
    text = json.dumps(value)
    for plain, hostile in domains.items():
        text = text.replace(json.dumps(plain), json.dumps(hostile))
    return json.loads(text)


def _fill(model: type[Model], rows: Any, fields: dict[str, Callable[[Any], Any]]) -> int:
    count = 0
    for row in rows:
        for field, make in fields.items():
            value = make(row)
            limit = getattr(model._meta.get_field(field), "max_length", None)
            setattr(row, field, value[:limit] if limit and isinstance(value, str) else value)
        # Straight to the table, past the model's append-only guards: this stands for text that
        # arrived hostile when the row was created (published versions stay frozen in SQL).
        QuerySet(model=model).filter(pk=row.pk).update(**{f: getattr(row, f) for f in fields})
        count += 1
    return count


def hostile_world(make_user: Any) -> dict[str, Any]:
    """A world of every kind of object whose text fields all carry payloads."""
    p = _cycle()
    project = Project.objects.create(name=p("Project"), slug="xss", description=p("About"))
    users = {
        role.value: make_user(p(role.value)[:150], project=project, role=role) for role in Role
    }
    users["outsider"] = make_user(p("outsider")[:150])
    users["superuser"] = make_user(p("root")[:150], superuser=True)
    for user in users.values():
        user.first_name, user.last_name = p("First")[:150], p("Last")[:150]
        user.save(update_fields=["first_name", "last_name"])
    world = build_world(project, users)

    domains = {plain: p(plain)[:100] for plain in WORLD_DOMAINS}
    mine = {"project": project}
    filled = 0
    filled += _fill(Project, [project], {"webhook_url": lambda _: JS_URL})
    filled += _fill(
        Rubric,
        Rubric.objects.filter(**mine),
        {"name": lambda _: p("Rubric")[:200], "description": lambda _: p("Describe")},
    )
    filled += _fill(
        RubricVersion,
        RubricVersion.objects.filter(rubric__project=project, status=VersionStatus.DRAFT),
        {
            "instructions": lambda _: p("Instructions"),
            "template": lambda _: p("Template {prompt} {response_a} {response_b}"),
            "message": lambda _: p("Message"),
        },
    )
    filled += _fill(
        Criterion,
        Criterion.objects.filter(
            version__rubric__project=project, version__status=VersionStatus.DRAFT
        ),
        {"title": lambda _: p("Title")[:200], "description": lambda _: p("Criterion")},
    )
    # Published versions are immutable, so the hostile one is published with its text.
    world["hostile_version"] = make_version(
        world["rubric"].project,
        rubric=world["rubric"],
        parent=world["version"],
        instructions=p("Published instructions"),
        criteria=[(f"c{i}", p("Title")[:200], p("Criterion"), 1.0) for i in range(3)],
    )
    filled += 1
    filled += _fill(
        Dataset,
        Dataset.objects.filter(**mine),
        {
            "name": lambda _: p("Dataset")[:200],
            "description": lambda _: p("Dataset about"),
            "source": lambda _: p("Source")[:100],
        },
    )
    filled += _fill(
        Pair,
        Pair.objects.filter(dataset__project=project),
        {
            "prompt": lambda _: p("Prompt"),
            "response_a": lambda _: p("Response A"),
            "response_b": lambda _: p("Response B"),
            "external_id": lambda row: f"{row.pk}{p('')}"[:100],
            "domain": lambda row: domains.get(row.domain, row.domain),
            "metadata": lambda _: {p("key"): p("value")},
        },
    )
    filled += _fill(
        ReferenceSet,
        ReferenceSet.objects.filter(**mine),
        {
            "name": lambda _: p("Reference")[:200],
            "description": lambda _: p("Reference about"),
            "domain_counts": lambda row: _hostile_json(row.domain_counts, domains),
        },
    )
    filled += _fill(
        AnnotationQueue,
        AnnotationQueue.objects.filter(**mine),
        {
            "name": lambda _: p("Queue")[:200],
            "instructions": lambda _: p("Queue instructions"),
            "domains": lambda row: _hostile_json(row.domains, domains),
        },
    )
    filled += _fill(
        JudgeConfig,
        JudgeConfig.objects.filter(**mine),
        {
            "name": lambda _: p("Judge")[:200],
            "model": lambda _: p("model")[:200],
            "base_url": lambda _: JS_URL,
            "params": lambda _: {p("param"): p("value")},
        },
    )
    filled += _fill(
        JudgingRun,
        JudgingRun.objects.filter(**mine),
        {
            "purpose": lambda _: p("purpose")[:60],
            "summary": lambda row: _hostile_json(row.summary, domains),
        },
    )
    filled += _fill(
        Judgment,
        Judgment.objects.filter(run__project=project),
        {
            "rationale": lambda _: p("Rationale"),
            "raw_output": lambda _: p("Raw output"),
            "error": lambda _: p("Error"),
        },
    )
    filled += _fill(
        DriftReport,
        DriftReport.objects.filter(**mine),
        {
            "stats": lambda row: _hostile_json(row.stats, domains),
            "flags": lambda row: _hostile_json(row.flags, domains),
            "error": lambda _: p("Report error"),
        },
    )
    filled += _fill(
        DriftAlert,
        DriftAlert.objects.filter(**mine),
        {"headline": lambda _: p("Headline")[:200], "reason": lambda _: p("Reason")},
    )

    # Labels with rationales and a disagreement settled with a reason, from the queue's pairs.
    queue = world["queue"]
    first, second = list(queue.dataset.pairs.order_by("id")[:2])
    for annotator, pair, choice in (
        (users["admin"], first, "A"),
        (users["author"], first, "B"),
        (users["author"], second, "A"),
    ):
        Annotation.objects.create(
            queue=queue, pair=pair, annotator=annotator, choice=choice, rationale=p("Label")
        )
    Adjudication.objects.create(
        queue=queue, pair=first, label="A", reason=p("Adjudication"), decided_by=users["admin"]
    )
    QuerySet(model=AuditEvent).filter(project=project).update(object_repr=p("Audit")[:200])
    world["filled"] = filled
    return world


def _page_urls(world: dict[str, Any]) -> list[tuple[str, str]]:
    """(route name, URL) of every GET page of a project, with each kind of rubric version."""
    table = route_table()
    versions = ("version", "draft_version", "hostile_version", "drift_candidate_version")
    urls: list[tuple[str, str]] = []
    for name, args in _all_routes():
        route = table[_table_key(name)]
        path_prefix = ("admin:", "schema", "docs", "healthz")
        api = "pk" in args or "project_pk" in args
        if "GET" not in route.methods or name.startswith(path_prefix) or api:
            continue
        if not args and name != "home":
            continue  # API lists and the login page carry no project text
        for version_key in versions if "version" in args else (None,):
            kwargs: dict[str, Any] = {}
            for arg in args:
                if arg == "project":
                    kwargs[arg] = world["project"].slug
                else:
                    key = version_key if arg == "version" else arg
                    kwargs[arg] = getattr(world[key], "pk", world[key])  # or a plain value
            url = reverse(name, kwargs=kwargs)
            if not url.startswith("/api/"):
                urls.append((name, url))
    return urls


def _visit(page: Any, url: str, found: dict[str, list[str]]) -> dict[str, Any]:
    """Load ``url`` and let htmx fetch what it loads on its own; report what the payloads did."""
    from playwright.sync_api import Error

    try:
        response = page.goto(url)
    except Error as exc:
        if "Download is starting" not in str(exc):
            raise
        # A file download: it must not be servable as a page.
        headers = page.request.get(url).headers
        kind = headers.get("content-type", "")
        if "html" in kind:
            found.setdefault(url, []).append(f"download served as {kind}")
        return {"status": 200, "shown": False, "download": True}
    # A page that polls never goes idle; what it loaded so far is checked.
    with contextlib.suppress(Error):
        page.wait_for_load_state("networkidle", timeout=3_000)
    result: dict[str, Any] = page.evaluate(DETECT)
    result["status"] = response.status if response is not None else 0
    problems = [f"window.__xss = {result['xss']!r}"] if result["xss"] else []
    problems += [f"injected: {html}" for html in result["bad"]]
    if result["status"] >= 500:
        problems.append(f"status {result['status']}")
    if problems:
        found.setdefault(url, []).extend(problems)
    return result


def _watch(page: Any, found: dict[str, list[str]]) -> None:
    """Record dialogs and CSP refusals against the page's path (the page fixture only fails)."""

    def on_dialog(dialog: Any) -> None:
        found.setdefault(urlsplit(page.url).path, []).append(f"dialog: {dialog.message!r}")
        dialog.dismiss()

    def on_console(msg: Any) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            found.setdefault(urlsplit(page.url).path, []).append(f"CSP: {msg.text[:160]}")

    page.on("dialog", on_dialog)
    page.on("console", on_console)


@pytest.mark.browser
def test_hostile_text_never_runs_or_becomes_markup(
    page: Any, browser: Any, live_server: Any, login: Any, make_user: Any
) -> None:
    world = hostile_world(make_user)
    found: dict[str, list[str]] = {}
    _watch(page, found)
    login(page, world["users"]["superuser"])

    visited: list[tuple[str, str, dict[str, Any]]] = []
    for name, url in _page_urls(world):
        visited.append((name, url, _visit(page, url, found)))

    # The annotator labels blind, on a page of its own.
    annotator = world["users"]["annotator"]
    assert Membership.objects.filter(user=annotator, role=Role.ANNOTATOR).exists()
    context = browser.new_context(base_url=live_server.url)
    annotator_page = context.new_page()
    _watch(annotator_page, found)
    try:
        login(annotator_page, annotator)
        queue = world["queue"]
        for name in ("annotations:label", "annotations:list", "dashboard"):
            kwargs = {"project": world["project"].slug}
            if name == "annotations:label":
                kwargs["queue"] = queue.pk
            url = reverse(name, kwargs=kwargs)
            visited.append((f"{name} (annotator)", url, _visit(annotator_page, url, found)))
    finally:
        context.close()

    shown = [name for name, _, result in visited if result.get("shown")]
    errors = [f"{name} {url}: {result['status']}" for name, url, result in visited]
    print(
        f"\nXSS: {len(PAYLOADS)} payloads in {world['filled']} objects; {len(visited)} pages "
        f"loaded, {len(shown)} showed payload text escaped, {len(found)} with problems"
    )
    quiet = [f"{name} ({result['status']})" for name, _, result in visited if not result["shown"]]
    print(f"pages without visible payload text: {', '.join(quiet)}")
    assert not found, "\n".join(f"{url}: {problems}" for url, problems in found.items())
    # The walk must really have shown hostile text, or it proved nothing.
    assert len(visited) >= 30, errors
    assert {"annotations:label (annotator)", "rubrics:edit", "judging:detail"} <= set(shown), shown


@pytest.mark.browser
def test_the_detector_sees_an_unescaped_payload(browser: Any) -> None:
    """The DOM check itself: markup that escaped the template is reported."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.set_content("<p>fine</p><b data-xss=1>x</b><span onclick='1'>y</span>")
        result = page.evaluate(DETECT)
    finally:
        context.close()
    assert len(result["bad"]) == 2
