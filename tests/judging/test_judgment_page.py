"""The judgment page (one pair in one order of a run) and the run table's links to it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from apps.datasets.models import Pair
from apps.judging import services
from apps.judging.accounting import token_cost
from apps.judging.models import JudgingRun, Judgment
from apps.judging.options import judge_options
from apps.judging.prompting import render_messages
from apps.judging.types import PairText
from tests.factories import make_judge, make_reference_set, make_version

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _run(project: Any, *, n_pairs: int = 6, **judge: Any) -> JudgingRun:
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=make_judge(project, name="Offline demo", **judge),
        reference_set=make_reference_set(project, n_pairs=n_pairs),
        dispatch=False,
    )
    return services.run_execute(run=run)


def _url(run: JudgingRun, pair_id: int, order: str) -> str:
    return reverse(
        "judging:judgment",
        kwargs={"project": run.project.slug, "run": run.pk, "pair": pair_id, "order": order},
    )


def test_judgment_page_shows_the_evidence(project: Any, members: dict[str, Any]) -> None:
    run = _run(project, price_in="2.5", price_out="10", params={"prompt_layout": "merged"})
    judgment = Judgment.objects.filter(run=run, order="BA").select_related("pair").first()
    assert judgment is not None
    Judgment.objects.filter(pk=judgment.pk).update(
        p_first=0.8125, attempts=3, latency_ms=41, queue_ms=7, tokens_in=1000, tokens_out=20
    )
    page = _client(members["viewer"]).get(_url(run, judgment.pair_id, "BA"))
    assert page.status_code == 200
    html = page.content.decode()
    judgment.refresh_from_db()
    assert f"Pair {judgment.pair_id}, order B,A" in html
    assert f"data-verdict><strong>{judgment.verdict}</strong>" in html
    assert f"data-verdict-source>{judgment.verdict_source}<" in html
    assert "data-p-first>0.8125<" in html
    assert "data-tokens>1000 / 20<" in html
    assert "data-latency>41 ms<" in html and "data-queue>7 ms<" in html
    assert "data-attempts>3 <span" in html and "(2 retries)" in html
    expected_cost = token_cost(1000, 20, run.judge.price_in, run.judge.price_out)
    assert f"data-cost>{expected_cost:.6f}<" in html
    assert "data-cached>no<" in html
    # The messages as sent: the merged layout puts everything in one user message, with the
    # pair's response B shown first.
    pair = judgment.pair
    messages = render_messages(
        run.rubric_version.to_spec(),
        PairText(pair.prompt, pair.response_a, pair.response_b, pair.domain),
        "BA",
        layout=judge_options(run.judge.params).layout,
    )
    assert [m["role"] for m in messages] == ["user"]
    assert re.findall(r'data-message-role="(\w+)"', html) == ["user"]
    assert escape(messages[0]["content"]) in html
    assert escape(judgment.raw_output) in html
    assert "data-prompt-verified" in html and "data-prompt-changed" not in html
    # The other order is one click away.
    assert f'href="{_url(run, judgment.pair_id, "AB")}" data-other-order' in html


def test_judgment_page_roles_and_isolation(
    project: Any, other_project: Any, members: dict[str, Any], make_user: Any
) -> None:
    run = _run(project, n_pairs=2)
    pair_id = Judgment.objects.filter(run=run).values_list("pair_id", flat=True).first()
    assert pair_id is not None
    url = _url(run, pair_id, "AB")
    for role in ("admin", "author", "viewer"):
        assert _client(members[role]).get(url).status_code == 200, role
    assert _client(members["annotator"]).get(url).status_code == 403
    outsider = make_user("stranger")
    assert _client(outsider).get(url).status_code == 404
    # The same run id under another project, an unknown order, a pair outside the run: 404.
    viewer = _client(members["viewer"])
    assert viewer.get(url.replace(project.slug, other_project.slug)).status_code == 404
    assert viewer.get(_url(run, pair_id, "XY")).status_code == 404
    stray = make_reference_set(project, n_pairs=1, name="Elsewhere").items.first()
    assert viewer.get(_url(run, stray.pair_id, "AB")).status_code == 404


def test_hostile_text_is_escaped(project: Any, members: dict[str, Any]) -> None:
    run = _run(project, n_pairs=2)
    judgment = Judgment.objects.filter(run=run, order="AB").first()
    assert judgment is not None
    Pair.objects.filter(pk=judgment.pair_id).update(prompt=HOSTILE, response_a=HOSTILE)
    Judgment.objects.filter(pk=judgment.pk).update(
        raw_output=HOSTILE, rationale=HOSTILE, error=HOSTILE, criteria={"clarity": HOSTILE}
    )
    html = _client(members["viewer"]).get(_url(run, judgment.pair_id, "AB")).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    # Raw output, rationale, error, criteria and the pair's texts in the messages.
    assert html.count("&lt;script&gt;alert(") >= 6


def test_run_table_links_every_row_and_keeps_rationales_whole(
    project: Any, members: dict[str, Any]
) -> None:
    run = _run(project, n_pairs=6)
    long_rationale = "Because " + "the first response is clearer. " * 20 + "THE END"
    Judgment.objects.filter(run=run, order="AB").update(rationale=long_rationale)
    client = _client(members["viewer"])
    html = client.get(reverse("judging:detail", args=[project.slug, run.pk])).content.decode()
    pair_ids = sorted(set(Judgment.objects.filter(run=run).values_list("pair_id", flat=True)))
    linked = [int(p) for p in re.findall(r'/pairs/(\d+)/AB/" data-judgment-link>\1<', html)]
    assert linked == pair_ids  # every row, named by its pair id
    for pair_id in pair_ids:
        assert f'href="{_url(run, pair_id, "BA")}"' in html
    assert html.count("THE END") == len(pair_ids)  # not cut on the server
    assert html.count("<details><summary>") == len(pair_ids)

    # The htmx filter answers the table alone, still linked.
    verdict = Judgment.objects.filter(run=run, order="AB").values_list("verdict", flat=True)[0]
    partial = client.get(
        reverse("judging:detail", args=[project.slug, run.pk]), {"verdict": verdict}, **HTMX
    ).content.decode()
    assert "<html" not in partial and 'id="run-pairs"' in partial
    assert "data-judgment-link" in partial


def test_judgment_page_says_when_the_judge_changed_since(
    project: Any, members: dict[str, Any]
) -> None:
    run = _run(project, n_pairs=2)
    pair_id = Judgment.objects.filter(run=run).values_list("pair_id", flat=True).first()
    assert pair_id is not None
    run.judge.params = {**run.judge.params, "prompt_layout": "merged"}
    run.judge.save(update_fields=["params"])
    html = _client(members["viewer"]).get(_url(run, pair_id, "AB")).content.decode()
    assert "data-prompt-changed" in html and "data-prompt-verified" not in html
