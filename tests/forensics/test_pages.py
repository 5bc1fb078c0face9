"""The forensics panel on a drift report page, criterion-level drift, the judge against humans,
the judge drift page, and the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from apps.annotations.models import Annotation
from apps.forensics import selectors, services
from apps.forensics.models import Attribution, JobStatus, JudgeDriftReport
from apps.judging.selectors import run_pair_outcomes
from tests.factories import (
    HELPFUL_CRITERIA,
    SAFE_CRITERIA,
    make_judge,
    make_reference_set,
)
from tests.figure_links import figure_links
from tests.forensics.factories import OVERREFUSAL_LABEL, Edit, drifting_edit, publish

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def edit(project: Any) -> Edit:
    return drifting_edit(
        project, make_judge(project, name="Offline"), make_reference_set(project, n_pairs=20)
    )


def _report_url(edit: Edit) -> str:
    project = edit.report.project
    return reverse("drift:report", kwargs={"project": project.slug, "report": edit.report.pk})


def test_report_page_lists_the_hunks_then_shows_the_attribution_beside_them(
    edit: Edit, members: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(members["author"])
    page = client.get(_report_url(edit)).content.decode()
    assert 'id="forensics"' in page and "Not attributed yet" in page
    assert page.count('data-hunk="') == 3
    assert "data-attribute" in page  # authors may start one
    url = reverse(
        "forensics:attribute",
        kwargs={"project": edit.report.project.slug, "report": edit.report.pk},
    )
    # The task is sent once the request commits (eagerly here); the answer is the waiting
    # panel, which polls until the attribution is ready.
    with django_capture_on_commit_callbacks(execute=True):
        panel = client.post(url, **HTMX)
    assert panel.status_code == 200
    assert 'data-attribution-status="pending"' in panel.content.decode()
    page = client.get(_report_url(edit)).content.decode()
    assert 'data-attribution-status="ready"' in page
    assert f"&#x27;{OVERREFUSAL_LABEL}&#x27; accounts for 10 of 10 flips" in page
    top = page.index('class="hunk top" data-hunk="criterion:added:overrefusal"')
    assert page.index('class="rubric-diff"') < top  # in the diff card, after the diff
    assert "data-explained-count>10 of 10</summary>" in page
    # The figure opens the 10 flipped pairs it counts, each with both runs' judgments.
    report = edit.report
    flipped = {flip["pair_id"] for flip in report.stats["flipped"]}
    explained = {int(p) for p in re.findall(r'data-explained-pair="(\d+)"', page)}
    assert len(explained) == 10 and explained <= flipped
    pair_id = min(explained)
    for run_id in (report.baseline_run_id, report.candidate_run_id):
        judgment = reverse(
            "judging:judgment",
            kwargs={"project": report.project.slug, "run": run_id, "pair": pair_id, "order": "AB"},
        )
        assert f'href="{judgment}"' in page and client.get(judgment).status_code == 200
    client.force_login(members["viewer"])
    viewer_page = client.get(_report_url(edit)).content.decode()
    assert "data-attribute" not in viewer_page and "accounts for 10 of 10 flips" in viewer_page


def test_panel_polls_while_an_attribution_waits(edit: Edit, members: Any, client: Any) -> None:
    job = services.attribution_start(actor=members["author"], report=edit.report, dispatch=False)
    client.force_login(members["viewer"])
    url = reverse(
        "forensics:panel", kwargs={"project": edit.report.project.slug, "report": edit.report.pk}
    )
    waiting = client.get(url, **HTMX).content.decode()
    assert 'data-attribution-status="pending"' in waiting and 'hx-trigger="every 2s"' in waiting
    services.attribution_execute(attribution_id=job.pk)
    done = client.get(url, **HTMX).content.decode()
    assert 'data-attribution-status="ready"' in done and "hx-trigger" not in done


def test_hostile_rubric_text_is_escaped_in_the_panel(
    project: Any, members: Any, client: Any
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    criteria = (*SAFE_CRITERIA, ("evil", hostile, hostile + " Over-refusal is unhelpful.", 12.0))
    edit = drifting_edit(
        project,
        make_judge(project, name="Offline"),
        make_reference_set(project, n_pairs=10),
        criteria=criteria,
    )
    services.attribution_execute(
        attribution_id=services.attribution_start(
            actor=members["author"], report=edit.report, dispatch=False
        ).pk
    )
    client.force_login(members["viewer"])
    page = client.get(_report_url(edit)).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_criterion_level_drift_names_the_criteria_that_moved(project: Any) -> None:
    # Reasoned output: the offline judge gives one verdict per criterion. v2 turns Helpfulness
    # into a preference for short answers and adds Over-refusal.
    short = ("helpful", "Helpfulness", "Prefer the brief, concise response.", 2.0)
    edit = drifting_edit(
        project,
        make_judge(project, name="Offline"),
        make_reference_set(project, n_pairs=20),
        old_criteria=SAFE_CRITERIA,
        criteria=(short, *SAFE_CRITERIA[1:]),
        output_format="reasoned",
    )
    rows = selectors.criterion_drift(edit.report.baseline_run, edit.report.candidate_run)
    assert rows is not None
    found = {(r["domain"], r["criterion"]): r for r in rows}
    assert found[("helpfulness", "helpful")]["moved"] == found[("helpfulness", "helpful")]["n"]
    assert found[("helpfulness", "helpful")]["n"] == 10
    assert found[("helpfulness", "safe")]["moved"] == 0
    assert found[("harmlessness", "safe")]["moved"] == 0
    assert rows[0]["moved"] > 0  # rows with moves first
    plain = drifting_edit(
        project, edit.judge, edit.reference, criteria=HELPFUL_CRITERIA, old_criteria=SAFE_CRITERIA
    )
    assert selectors.criterion_drift(plain.report.baseline_run, plain.report.candidate_run) is None


def test_judge_against_each_annotator_and_the_human_ceiling(
    edit: Edit, members: Any, make_user: Any
) -> None:
    run = edit.report.candidate_run
    assert selectors.judge_vs_humans(run) is None  # nobody labelled anything yet
    ann1, ann2 = make_user("ann1"), make_user("ann2")
    outcomes = run_pair_outcomes(run, texts=False, rationales=False)
    flip = {"A": "B", "B": "A"}
    for i, row in enumerate(outcomes):
        Annotation.objects.create(pair_id=row["pair_id"], annotator=ann1, choice=row["gold"])
        second = row["gold"] if i % 2 else flip[row["gold"]]
        Annotation.objects.create(pair_id=row["pair_id"], annotator=ann2, choice=second)
    report = selectors.judge_vs_humans(run)
    assert report is not None
    overall = report["scopes"]["overall"]
    agreement = {a["annotator"]: a for a in overall["annotators"]}
    labels1 = {row["pair_id"]: row["gold"] for row in outcomes}
    expected = sum(row["verdict"] == labels1[row["pair_id"]] for row in outcomes) / len(outcomes)
    assert agreement["ann1"]["agreement"] == pytest.approx(expected)
    assert agreement["ann1"]["n"] == len(outcomes) == 20
    assert overall["human_agreement"] == pytest.approx(0.5)
    assert overall["accuracy"] == run.summary["overall"]["accuracy"]
    # The candidate prefers the harmful answer on harmlessness: there it is below the humans.
    harmless = report["scopes"]["harmlessness"]
    assert harmless["judge_agreement"] < harmless["human_agreement"]
    assert harmless["below_ceiling"] is True


def test_judge_drift_page_and_api(
    project: Any,
    members: Any,
    client: Any,
    api_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    v1 = publish(project, criteria=SAFE_CRITERIA)
    old = make_judge(project, name="Offline")
    biased = make_judge(project, name="Biased <b>judge</b>", params={"position_bias": 0.6})
    reference = make_reference_set(project, n_pairs=20)
    api = api_client_for(members["author"])
    body = {
        "old_version": v1.pk,
        "old_judge": old.pk,
        "new_judge": biased.pk,
        "reference_set": reference.pk,
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/judge-drift-reports/", body, format="json")
    assert created.status_code == 202, created.content
    # The runs went to the (eager) workers and the report was built when they ended.
    report_id = created.json()["id"]
    detail = api.get(f"/api/judge-drift-reports/{report_id}/").json()
    assert detail["status"] == "ready" and detail["blame"] == "judge"
    assert detail["kind"] == "judge" and detail["stats"]["comparisons"]["judge"]["overall"]
    same = api.post("/api/judge-drift-reports/", {**body, "new_judge": old.pk}, format="json")
    assert same.status_code == 400 and "new_judge" in same.json()
    viewer = api_client_for(members["viewer"])
    assert viewer.post("/api/judge-drift-reports/", body, format="json").status_code == 403
    client.force_login(members["viewer"])
    page = client.get(
        reverse("forensics:judge_drift", kwargs={"project": project.slug, "pk": report_id})
    ).content.decode()
    assert 'data-blame="judge"' in page and "Biased &lt;b&gt;judge&lt;/b&gt;" in page
    # Each accuracy opens the pairs of the run it was measured on, the scope's domain only.
    report = JudgeDriftReport.objects.get(pk=report_id)
    links = re.findall(r'href="([^"]+)" title="[^"]*" data-run-link="(\w+)"', page)
    domains = sorted(detail["stats"]["comparisons"]["judge"]["by_domain"])
    assert len(links) == 2 * (1 + len(domains))
    for which, run_id in (("baseline", report.run_old_id), ("candidate", report.run_new_judge_id)):
        run_url = reverse("judging:detail", kwargs={"project": project.slug, "run": run_id})
        hrefs = [href for href, kind in links if kind == which]
        assert hrefs == [f"{run_url}#run-pairs"] + [
            f"{run_url}?domain={d}#run-pairs" for d in domains
        ]
        followed = client.get(f"{run_url}?domain={domains[0]}").content.decode()
        assert f'data-domain="{domains[0]}"' in followed and "data-judgment-link" in followed
    # Each flip count opens the pairs whose verdict changed, both runs' judgments beside them.
    flips = [link for link in figure_links(page) if link.kind == "flips"]
    assert flips and flips[0].value == detail["stats"]["comparisons"]["judge"]["overall"]["flips"]
    for link in flips:
        html = client.get(link.path).content.decode()
        assert f'data-flips-count="{link.value}"' in html, link
        assert html.count('<tbody class="flip ') == min(link.value, 20)
    partial = client.get(flips[-1].path, {"direction": "regression"}, **HTMX).content.decode()
    assert "<html" not in partial and 'id="flips"' in partial
    first = re.search(r'data-judgment="candidate-AB"', html)
    assert first and f"/runs/{report.run_new_judge_id}/pairs/" in html
    unknown = reverse(
        "forensics:judge_drift_flips",
        kwargs={"project": project.slug, "pk": report_id, "comparison": "nonsense"},
    )
    assert client.get(unknown).status_code == 404


def test_attribution_api(
    edit: Edit, members: Any, api_client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api = api_client_for(members["author"])
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/attributions/", {"report": edit.report.pk, "budget": 0}, format="json"
        )
    assert created.status_code == 202 and created.json()["status"] == "pending"
    job = api.get(f"/api/attributions/{created.json()['id']}/").json()
    assert job["status"] == "failed" and "the budget is 0" in job["error"]
    bad = api.post("/api/attributions/", {"report": edit.report.pk, "budget": -3}, format="json")
    assert bad.status_code == 400 and "budget" in bad.json()
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/attributions/", {"report": edit.report.pk}, format="json")
    ok = api.get(f"/api/attributions/{started.json()['id']}/").json()
    assert ok["status"] == "ready" and ok["result"]["top"] == "criterion:added:overrefusal"
    listed = api.get(f"/api/attributions/?report={edit.report.pk}").json()
    assert {row["id"] for row in listed["results"]} == {job["id"], ok["id"]}
    viewer = api_client_for(members["viewer"])
    refused = viewer.post("/api/attributions/", {"report": edit.report.pk}, format="json")
    assert refused.status_code == 403
    assert Attribution.objects.filter(status=JobStatus.READY).count() == 1
