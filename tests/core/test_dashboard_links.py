"""Every figure of the project dashboard opens the list behind it, and that list shows as many
rows (or sums to as much) as the figure says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.annotations import services as annotations
from apps.drift.models import AlertStatus, DriftAlert, DriftReport, ReportStatus, Severity
from apps.judging import services as judging
from apps.judging.models import JudgingRun
from apps.rubrics.models import RubricLabel
from tests.figure_links import FigureLink, figure_links
from tests.world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(project: Any, members: dict[str, Any]) -> dict[str, Any]:
    world = build_world(project, members)
    run = world["run"]
    # One run still waiting, alerts of each kind, a check still running.
    judging.run_start(
        actor=None,
        rubric_version=run.rubric_version,
        judge=run.judge,
        reference_set=run.reference_set,
        dispatch=False,
    )
    alert = world["alert"]
    for severity, status in (
        (Severity.HIGH, AlertStatus.OPEN),
        (Severity.HIGH, AlertStatus.ACKNOWLEDGED),
        (Severity.MEDIUM, AlertStatus.OPEN),
    ):
        report = DriftReport.objects.get(pk=alert.report_id)
        report.pk = None
        report._state.adding = True
        report.save()  # a copy: one alert per report
        DriftAlert.objects.create(
            project=project,
            report=report,
            rubric=alert.rubric,
            version=alert.version,
            severity=severity,
            status=status,
            headline="another alert",
        )
    DriftReport.objects.filter(pk=world["report"].pk).update(status=ReportStatus.PENDING)
    # A version in production and a label given.
    RubricLabel.objects.create(rubric=world["rubric"], name="production", version=world["version"])
    queue, admin = world["queue"], members["admin"]
    assignment = annotations.assignment_next(queue=queue, annotator=admin)
    assert assignment is not None
    annotations.annotation_submit(assignment=assignment, choice="A")
    return world


def _numbers(pattern: str, html: str) -> list[int]:
    return [int(n) for n in re.findall(pattern, html)]


# What each dashboard figure counts, read from the page it opens.
COUNTERS: dict[str, Any] = {
    "active-runs": lambda html: html.count('<tr data-run="'),
    "all-runs": lambda html: html.count('<tr data-run="'),
    "rubrics": lambda html: html.count('data-figure-link="versions"'),
    "drafts": lambda html: sum(link.value for link in figure_links(html) if link.kind == "drafts"),
    "in-production": lambda html: html.count("data-production"),
    "datasets": lambda html: html.count('data-figure-link="pairs"'),
    "pairs": lambda html: sum(link.value for link in figure_links(html) if link.kind == "pairs"),
    "reference-sets": lambda html: html.count('data-figure-link="items"'),
    "your-queues": lambda html: html.count('<li class="card queue-card">'),
    "waiting-for-you": lambda html: sum(
        total - done
        for done, total in re.findall(r"<strong>(\d+)</strong> of (\d+) labelled", html)
        for done, total in [(int(done), int(total))]
    ),
    "queues": lambda html: html.count("data-queue-row"),
    "labels": lambda html: sum(_numbers(r"data-labels-done>(\d+)<", html)),
    "open-alerts": lambda html: html.count('data-alert="'),
    "high-severity": lambda html: html.count('data-alert="'),
    "checks-running": lambda html: html.count('data-report="'),
}


def test_every_dashboard_figure_opens_exactly_what_it_counts(
    project: Any, members: dict[str, Any], world: dict[str, Any]
) -> None:
    client = Client()
    client.force_login(members["admin"])
    html = client.get(reverse("dashboard", kwargs={"project": project.slug})).content.decode()
    links = {link.kind: link for link in figure_links(html)}
    accuracy = links.pop("latest-accuracy")
    assert set(links) == set(COUNTERS)
    for kind, link in links.items():
        target = client.get(link.path)
        assert target.status_code == 200, link
        assert COUNTERS[kind](target.content.decode()) == link.value, link
    runs = JudgingRun.objects.filter(project=project)
    assert (links["active-runs"].value, links["all-runs"].value) == (1, runs.count())
    assert (links["open-alerts"].value, links["high-severity"].value) == (3, 1)
    assert links["checks-running"].value == 1
    assert links["in-production"].value == 1 and links["labels"].value == 1
    assert links["drafts"].value >= 1 and links["waiting-for-you"].value >= 1

    latest = runs.exclude(status="queued").first()
    assert accuracy.href == reverse(
        "judging:detail", kwargs={"project": project.slug, "run": latest.pk}
    )


def test_figures_shown_to_a_viewer_link_only_to_pages_a_viewer_may_open(
    project: Any, members: dict[str, Any], world: dict[str, Any]
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    html = client.get(reverse("dashboard", kwargs={"project": project.slug})).content.decode()
    links: list[FigureLink] = figure_links(html)
    assert links
    for link in links:
        assert client.get(link.path).status_code == 200, link
