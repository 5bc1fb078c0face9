"""The run page's progress figures open the pairs behind them: "From cache" the pairs with an
order answered from the cache, tokens and cost the pairs judged afresh."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.judging import selectors, services
from apps.judging.models import JudgingRun, Judgment
from tests.factories import make_dataset, make_judge, make_reference_set, make_version

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


def test_from_cache_opens_exactly_the_cached_pairs(
    project: Any, members: dict[str, Any], grown: JudgingRun
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    url = reverse("judging:detail", kwargs={"project": project.slug, "run": grown.pk})
    html = client.get(url).content.decode()
    assert f'href="{url}?cached=yes#run-pairs"' in html
    assert 'data-progress-link="cached">16</a>' in html

    followed = client.get(url, {"cached": "yes"}).content.decode()
    cached = Judgment.objects.filter(run=grown, cached=True)
    assert _pair_ids(followed) == set(cached.values_list("pair_id", flat=True))
    # Each cached order is marked: as many marks as the figure counts.
    assert followed.count("data-cached-order") == grown.cached
    assert '<option value="yes" selected>yes</option>' in followed

    fresh = client.get(url, {"cached": "no"}).content.decode()
    assert _pair_ids(fresh) == set(
        Judgment.objects.filter(run=grown, cached=False).values_list("pair_id", flat=True)
    )
    assert len(_pair_ids(fresh)) == 4 and "data-cached-order" not in fresh


def test_tokens_and_cost_open_the_pairs_judged_afresh(
    project: Any, members: dict[str, Any], grown: JudgingRun
) -> None:
    client = Client()
    client.force_login(members["viewer"])
    url = reverse("judging:detail", kwargs={"project": project.slug, "run": grown.pk})
    html = client.get(url).content.decode()
    for figure in ("tokens", "cost"):
        assert f'href="{url}?cached=no#run-pairs" title="the pairs judged afresh, which' in html
        assert f'data-progress-link="{figure}"' in html
    saved = 'title="the pairs with an order answered from the cache" data-progress-link="saved"'
    assert f'href="{url}?cached=yes#run-pairs" {saved}' in html
    # The tokens the run spent are exactly those of the judgments on the pairs it opens.
    fresh_ids = _pair_ids(client.get(url, {"cached": "no"}).content.decode())
    spent = Judgment.objects.filter(run=grown, pair_id__in=fresh_ids)
    assert sum(spent.values_list("tokens_in", flat=True)) == grown.tokens_in > 0


def test_figures_of_a_run_still_working_are_plain(project: Any, members: dict[str, Any]) -> None:
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
