"""The run page's progress figures open the judgments behind them (Done, Failed, From cache, tokens,
cost and savings count judgments, two a pair), and its pairs table filters by the cache."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.judging import selectors, services
from apps.judging.models import JudgingRun, Judgment
from tests.factories import make_dataset, make_judge, make_reference_set, make_version
from tests.figure_links import figure_links

pytestmark = pytest.mark.django_db
PAIR_LINK = re.compile(r"data-judgment-link>(\d+)</a>")


def _run(version: Any, judge: Any, reference_set: Any) -> JudgingRun:
    run = services.run_start(
        actor=None,
        rubric_version=version,
        judge=judge,
        reference_set=reference_set,
        dispatch=False,
    )
    return services.run_execute(run=run)


@pytest.fixture
def grown(project: Any) -> JudgingRun:
    """A run over 8 pairs judged before (read from the cache) and 4 new ones."""
    version, judge = make_version(project), make_judge(project, price_in="2.50", price_out="10")
    dataset, pairs = make_dataset(project, n_pairs=8)
    _run(version, judge, make_reference_set(project, pairs=pairs))
    _, more = make_dataset(project, n_pairs=4, start=8, dataset=dataset)
    run = _run(version, judge, make_reference_set(project, pairs=[*pairs, *more], name="Grown"))
    assert (run.cached, run.done) == (16, 24)
    return run


def _pair_ids(html: str) -> set[int]:
    return {int(pair_id) for pair_id in PAIR_LINK.findall(html)}


def test_the_pairs_table_filters_by_the_cache(
    project: Any, members: dict[str, Any], grown: JudgingRun
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    url = reverse("judging:detail", kwargs={"project": project.slug, "run": grown.pk})
    followed = client.get(url, {"cached": "yes"}).content.decode()
    cached = Judgment.objects.filter(run=grown, cached=True)
    assert _pair_ids(followed) == set(cached.values_list("pair_id", flat=True))
    # Each cached order is marked: as many marks as the run counts cached judgments.
    assert followed.count("data-cached-order") == grown.cached
    assert '<option value="yes" selected>yes</option>' in followed

    fresh = client.get(url, {"cached": "no"}).content.decode()
    assert _pair_ids(fresh) == set(
        Judgment.objects.filter(run=grown, cached=False).values_list("pair_id", flat=True)
    )
    assert len(_pair_ids(fresh)) == 4 and "data-cached-order" not in fresh


@pytest.fixture
def mixed(project: Any, fake_server: Any) -> JudgingRun:
    """A priced run over 8 pairs on a real HTTP judge: 4 judged before (read from the cache), 2
    whose requests always fail (HTTP 500), 2 new ones."""
    from tests.fake_openai_server import FaultRule

    version = make_version(project)
    judge = make_judge(
        project,
        backend="openai",
        model="fake-judge",
        base_url=fake_server.base_url,
        price_in="2.50",
        price_out="10",
        params={"max_attempts": 1},
    )
    fake_server.configure(rules=(FaultRule(contains="FAILME", faults=("500",) * 1000),))
    dataset, seen = make_dataset(project, n_pairs=4)
    _run(version, judge, make_reference_set(project, pairs=seen, name="Seen"))
    _, bad = make_dataset(project, n_pairs=2, start=4, dataset=dataset, marker=" FAILME")
    _, new = make_dataset(project, n_pairs=2, start=6, dataset=dataset)
    run = _run(version, judge, make_reference_set(project, pairs=[*seen, *bad, *new]))
    assert (run.done, run.failed, run.cached) == (12, 4, 8)
    return run


def _judgment_rows(html: str) -> list[tuple[int, str]]:
    """(pair id, status) of each judgment row of a judgments page."""
    rows = re.findall(
        r'<tr data-judgment-row data-status="(\w+)".*?data-judgment-link>(\d+)</a>', html, re.S
    )
    return [(int(pair_id), status) for status, pair_id in rows]


def _viewer(members: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(members["viewer"])
    return client


def _run_urls(project: Any, run: JudgingRun) -> tuple[str, str]:
    """The run page and its judgments page."""
    kwargs = {"project": project.slug, "run": run.pk}
    return reverse("judging:detail", kwargs=kwargs), reverse("judging:judgments", kwargs=kwargs)


def test_each_count_of_the_run_opens_exactly_the_judgments_it_counts(
    project: Any, members: dict[str, Any], mixed: JudgingRun
) -> None:
    client = _viewer(members)
    url, judgments_url = _run_urls(project, mixed)
    links = figure_links(client.get(url).content.decode())
    assert {(link.kind, link.value, link.href) for link in links} == {
        ("done", 12, f"{judgments_url}?status=done"),
        ("failed", 4, f"{judgments_url}?status=failed"),
        ("cached", 8, f"{judgments_url}?cached=yes"),
    }
    for link in links:
        html = client.get(link.path).content.decode()
        rows = _judgment_rows(html)
        assert len(rows) == link.value, link
        assert f'<dd data-total="count">{link.value}</dd>' in html
        wanted = {"done": {"done"}, "failed": {"failed"}, "cached": {"done"}}[link.kind]
        assert {status for _, status in rows} == wanted
    failed = {pair_id for pair_id, _ in _judgment_rows(client.get(links[1].path).content.decode())}
    assert failed == set(
        Judgment.objects.filter(run=mixed, pair__prompt__contains="FAILME").values_list(
            "pair_id", flat=True
        )
    )


def test_tokens_cost_and_savings_open_the_judgments_that_add_up_to_them(
    project: Any, members: dict[str, Any], mixed: JudgingRun
) -> None:
    client = _viewer(members)
    url, judgments_url = _run_urls(project, mixed)
    html = client.get(url).content.decode()
    for figure, query in (("tokens", "no"), ("cost", "no"), ("saved", "yes")):
        assert re.search(
            rf'href="{judgments_url}\?cached={query}"[^>]*data-progress-link="{figure}"', html
        ), figure
    assert mixed.tokens_in > 0 and mixed.cost > 0 and mixed.saved_tokens > 0
    fresh = client.get(judgments_url, {"cached": "no"}).content.decode()
    assert len(_judgment_rows(fresh)) == 8  # 2 new pairs, 2 failing ones, both orders
    assert f"{mixed.tokens_in} / {mixed.tokens_out}</dd>" in fresh
    assert f'<dd data-total="cost">{mixed.cost:.4f}</dd>' in fresh
    cached = client.get(judgments_url, {"cached": "yes"}).content.decode()
    assert f"{mixed.saved_tokens} tokens · {mixed.saved_cost:.4f}</dd>" in cached


def test_the_judgments_page_filters_in_place_and_escapes_errors(
    project: Any, members: dict[str, Any], mixed: JudgingRun
) -> None:
    Judgment.objects.filter(run=mixed, status="failed").update(error="<script>x()</script>")
    client = _viewer(members)
    _, judgments_url = _run_urls(project, mixed)
    partial = client.get(
        judgments_url, {"status": "failed", "order": "BA"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in partial and len(_judgment_rows(partial)) == 2
    assert "<script>x()" not in partial and "&lt;script&gt;x()&lt;/script&gt;" in partial
    everything = client.get(judgments_url).content.decode()
    assert len(_judgment_rows(everything)) == mixed.total == 16


def test_another_projects_run_has_no_judgments_page(
    project: Any, other_project: Any, members: dict[str, Any], mixed: JudgingRun
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    url = reverse("judging:judgments", kwargs={"project": other_project.slug, "run": mixed.pk})
    assert client.get(url).status_code in (403, 404)


def test_figures_at_zero_are_plain(project: Any, members: dict[str, Any]) -> None:
    queued = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=make_judge(project),
        reference_set=make_reference_set(project, n_pairs=4),
        dispatch=False,
    )
    client = Client()
    client.force_login(members["viewer"])
    url = reverse("judging:detail", kwargs={"project": project.slug, "run": queued.pk})
    assert "data-progress-link" not in client.get(url).content.decode()


def test_the_cached_filter_keeps_pairs_with_either_order_cached(grown: JudgingRun) -> None:
    # One order of one fresh pair read from the cache: the pair counts as cached.
    pair_id = selectors.run_pair_rows(grown, cached="no")[0]["pair_id"]
    Judgment.objects.filter(run=grown, pair_id=pair_id, order="BA").update(cached=True)
    rows = selectors.run_pair_rows(grown, cached="yes")
    assert pair_id in {row["pair_id"] for row in rows} and len(rows) == 9
    assert len(selectors.run_pair_rows(grown, cached="no")) == 3
    assert len(selectors.run_pair_rows(grown, cached="maybe")) == 12


def test_run_list_figures_open_the_run_page_parts_that_break_them_down(
    project: Any, members: dict[str, Any], grown: JudgingRun
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    html = client.get(reverse("judging:list", kwargs={"project": project.slug})).content.decode()
    url = reverse("judging:detail", kwargs={"project": project.slug, "run": grown.pk})
    for anchor, kind in (("run-progress", "progress"), ("run-accuracy", "accuracy")):
        assert f'href="{url}#{anchor}" data-figure-link="{kind}"' in html
    page = client.get(url).content.decode()
    assert 'id="run-progress"' in page and 'id="run-accuracy"' in page
