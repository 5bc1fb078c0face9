"""The figures of a red team's page open the rows behind them: its spend ledger and its
candidates, each candidate on a page of its own; within the project only, text escaped."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.datasets.models import ReferenceItem
from apps.redteam import services
from apps.redteam.models import Candidate, CandidateKind, JobStatus, PairVerdict, SpendEntry
from tests.figure_links import figure_links
from tests.redteam.test_ledger import fake_server, start_job

__all__ = ["fake_server"]  # the loopback editor's server, a fixture of these tests too

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


@pytest.fixture
def job(project: Any, members: Any, fake_server: Any) -> Any:
    """A finished red team whose editor is an LLM (so every kind of charge is in its ledger)."""
    job = services.job_execute(
        job=start_job(project, members["admin"], editor_url=fake_server.base_url)
    )
    assert job.status == JobStatus.SUCCEEDED, job.error
    return job


def _url(name: str, project: Any, job: Any, **kwargs: Any) -> str:
    return reverse(f"redteam:{name}", kwargs={"project": project.slug, "job": job.pk, **kwargs})


def _total(html: str, name: str) -> str:
    match = re.search(rf'data-total="{name}"[^>]*>([^<]+)<', html)
    assert match, name
    return match[1]


def _rows(html: str, kind: str) -> int:
    return html.count(f"<tr data-{kind}-row")


def test_each_figure_of_the_job_page_opens_the_rows_it_counts(
    project: Any, members: Any, job: Any
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    page = client.get(_url("detail", project, job)).content.decode()
    links = {link.kind: link for link in figure_links(page)}
    assert set(links) == {
        "candidates",
        "spend-judge_calls",
        "spend-cached_calls",
        "spend-editor_calls",
        "spend-cost",
    }
    assert links["candidates"].value == job.candidates == 1 + 2 + 4
    assert links["spend-judge_calls"].value == job.judge_calls > 0
    assert links["spend-cached_calls"].value == job.cached_calls
    assert links["spend-editor_calls"].value == job.editor_calls == 6

    # The list of red teams shows the same count, opening the same candidates.
    list_url = reverse("redteam:list", kwargs={"project": project.slug})
    listed = figure_links(client.get(list_url).content.decode())
    assert [(link.value, link.href) for link in listed] == [
        (job.candidates, links["candidates"].href)
    ]

    candidates = client.get(links["candidates"].path).content.decode()
    assert _rows(candidates, "candidate") == job.candidates
    assert f"{job.candidates} candidates" in candidates
    assert 'data-kind="benign"' not in candidates
    for kind in ("spend-judge_calls", "spend-cached_calls", "spend-editor_calls"):
        html = client.get(links[kind].path).content.decode()
        assert int(_total(html, kind.removeprefix("spend-"))) == links[kind].value, kind
        assert 'id="ledger-incomplete"' not in html
    editor_rows = client.get(links["spend-editor_calls"].path).content.decode()
    assert _rows(editor_rows, "spend") == job.editor_calls
    assert 'data-kind="judge"' not in editor_rows

    # Cost is money: the page shows it to 4 places, the ledger's exact sum is the job's cost.
    shown = re.search(r'data-figure-link="spend-cost">([^<]+)<', page)
    assert shown
    ledger = client.get(links["spend-cost"].path).content.decode()
    assert _total(ledger, "cost") == shown[1].strip()
    exact = re.search(r'data-total="cost" data-value="([^"]+)"', ledger)
    assert exact and Decimal(exact[1]) == job.cost > 0
    assert _rows(ledger, "spend") == SpendEntry.objects.filter(job=job).count()


def test_the_lists_filter_in_place_and_open_each_candidate(
    project: Any, members: Any, job: Any
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    partial = client.get(
        _url("spend", project, job), {"step": "selection", "split": "val"}, **HTMX
    ).content.decode()
    selection = SpendEntry.objects.filter(job=job, step="selection")
    assert "<html" not in partial and _rows(partial, "spend") == selection.count() > 0
    assert int(_total(partial, "judge_calls")) == sum(e.judge_calls for e in selection)
    benign = client.get(_url("candidates", project, job), {"kind": "benign"}, **HTMX)
    assert _rows(benign.content.decode(), "candidate") == job.benign_k
    compliant = client.get(_url("candidates", project, job), {"compliant": "yes"}).content.decode()
    assert (
        _rows(compliant, "candidate") == Candidate.objects.filter(job=job, compliant=True).count()
    )

    detail = client.get(_url("detail", project, job)).content.decode()
    strongest = Candidate.objects.filter(job=job, kind=CandidateKind.SEARCH, compliant=True)
    for candidate in strongest:
        assert _url("candidate", project, job, candidate=candidate.pk) in detail

    seed = Candidate.objects.get(job=job, kind=CandidateKind.SEED)
    html = client.get(_url("candidate", project, job, candidate=seed.pk)).content.decode()
    entries = SpendEntry.objects.filter(candidate=seed)
    assert (
        _rows(html, "spend")
        == entries.count()
        == job.generations + 1 + 1 + (1 if job.best_id else 0)
    )
    assert int(_total(html, "judge_calls")) == sum(e.judge_calls for e in entries)
    # The verdicts come split by split, train first, then by pair.
    verdicts = sorted(
        PairVerdict.objects.filter(candidate=seed),
        key=lambda v: (("train", "val", "test").index(v.split), v.pair_id),
    )
    assert len(verdicts) > 50
    assert f"{len(verdicts)} verdicts" in html and _rows(html, "verdict") == 50
    gold = dict(
        ReferenceItem.objects.filter(reference_set=job.reference_set).values_list(
            "pair_id", "gold_label"
        )
    )
    first_page = verdicts[:50]
    shown = re.findall(r"<tr data-verdict-row>.*?<td>(Train|Val|Test)</td>", html, re.S)
    assert shown == [v.get_split_display() for v in first_page] and shown[0] == "Train"
    assert html.count(">wrong</span>") == sum(v.verdict != gold[v.pair_id] for v in first_page)
    pair_url = reverse(
        "datasets:pair", kwargs={"project": project.slug, "pair": first_page[0].pair_id}
    )
    assert pair_url in html
    second = client.get(
        _url("candidate", project, job, candidate=seed.pk), {"page": 2}, **HTMX
    ).content.decode()
    assert "<html" not in second and _rows(second, "verdict") == min(50, len(verdicts) - 50)

    child = Candidate.objects.filter(job=job, kind=CandidateKind.SEARCH).first()
    assert child is not None
    html = client.get(_url("candidate", project, job, candidate=child.pk)).content.decode()
    assert 'class="rubric-diff"' in html
    assert int(_total(html, "editor_calls")) == 1


def test_a_job_from_before_the_ledger_says_its_rows_fall_short(
    project: Any, members: Any, job: Any
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    assert 'id="ledger-incomplete"' not in client.get(_url("spend", project, job)).content.decode()
    SpendEntry.objects.filter(job=job, step="report").delete()
    html = client.get(_url("spend", project, job)).content.decode()
    assert 'id="ledger-incomplete"' in html


def test_another_projects_job_and_candidate_are_not_found(
    project: Any, members: Any, other_project: Any, job: Any
) -> None:
    other = start_job(other_project, None, generations=1)
    services.job_step(job_id=other.pk, dispatch=False)
    other_seed = Candidate.objects.get(job=other, kind=CandidateKind.SEED)
    client = Client()
    client.force_login(members["admin"])
    for name in ("spend", "candidates"):
        assert client.get(_url(name, project, other)).status_code == 404
        assert client.get(_url(name, project, job)).status_code == 200
    assert client.get(_url("candidate", project, other, candidate=other_seed.pk)).status_code == 404
    # A job of this project with a candidate of the other one.
    assert client.get(_url("candidate", project, job, candidate=other_seed.pk)).status_code == 404


def test_hostile_candidate_text_is_escaped(project: Any, members: Any, job: Any) -> None:
    child = Candidate.objects.filter(job=job, kind=CandidateKind.SEARCH).first()
    assert child is not None
    Candidate.objects.filter(pk=child.pk).update(edit=HOSTILE, error=HOSTILE)
    client = Client()
    client.force_login(members["viewer"])
    pages = [
        client.get(_url("candidates", project, job), {"generation": child.generation}),
        client.get(_url("candidate", project, job, candidate=child.pk)),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert HOSTILE not in html and ESCAPED in html
