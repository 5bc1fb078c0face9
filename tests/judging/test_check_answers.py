"""The answers behind a judge check's sanity figures: one row per request, shown per pair.

The pure rows are checked against hand-made results; the page against a real check of the
loopback fake server (real HTTP, real database), whose answers are set to be hostile, flipped
or refused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.judging import check as checks
from apps.judging.models import JudgeCheck
from apps.judging.types import JudgeResult, ShownVerdict
from tests.factories import make_judge
from tests.fake_openai_server import FakeOpenAIServer, FaultRule
from tests.figure_links import figure_links

HOSTILE = "<script>alert('raw')</script>"
# Which rows of the answers table each linked figure counts.
FIGURE_ROWS = {
    "sanity-valid": 'data-valid="yes"',
    "sanity-consistent": 'data-consistent="yes"',
    "sanity-correct": 'data-correct="yes"',
}
FIGURE_TOTALS = {
    "sanity-valid": "n_valid",
    "sanity-consistent": "n_consistent",
    "sanity-correct": "n_correct",
}


def _items() -> list[Any]:
    return checks.sanity_requests(mode="verdict", layout="system", one_token=False)


def _result(key: str, verdict: ShownVerdict, **fields: Any) -> JudgeResult:
    return JudgeResult(key=key, verdict=verdict, raw_output=f"[[{verdict}]]", **fields)


def _obvious(order: str) -> ShownVerdict:
    """The shown verdict that names the better response (the pair's A) in this order."""
    return "first" if order == "AB" else "second"


def test_rows_agree_with_the_totals_and_show_an_invalid_answer_and_a_flipped_pair() -> None:
    items = _items()
    results = []
    for request, index, order in items:
        if index == 0 and order == "AB":
            # No verdict, hostile and longer than what is kept.
            raw = HOSTILE + "x" * (checks.RAW_ANSWER_CAP + 500)
            results.append(
                JudgeResult.failure(request.key, "no verdict marker in the answer", raw_output=raw)
            )
        elif index == 1:
            # The judge always picks the first shown response: the pair flips with the order.
            results.append(_result(request.key, "first", latency_ms=40, tokens_in=100))
        else:
            results.append(
                _result(request.key, _obvious(order), latency_ms=30, tokens_in=90, tokens_out=3)
            )
    results[2].extra["finish_reason"] = "stop"
    metrics = checks.sanity_metrics(items, results)
    rows = metrics["answers"]

    assert len(rows) == metrics["n_requests"] == len(items)
    assert metrics["n_valid"] == sum(r["valid"] for r in rows) == len(items) - 1
    assert metrics["n_correct"] == sum(r["correct"] for r in rows) == len(items) - 2
    pairs = checks.sanity_answer_pairs(rows)
    assert [p["pair"] for p in pairs] == list(range(len(checks.SANITY_PAIRS)))
    assert metrics["n_pairs_both_valid"] == sum(p["consistent"] is not None for p in pairs)
    assert metrics["n_consistent"] == sum(p["consistent"] is True for p in pairs)
    assert [p["consistent"] for p in pairs] == [None, False, True, True]
    assert metrics["tokens_in"] == sum(r["tokens_in"] for r in rows)
    assert metrics["latency_ms"] == {"median": 30, "max": 40}
    assert "samples" not in metrics

    invalid = pairs[0]["ab"]
    assert invalid["valid"] is False and invalid["pair_verdict"] == "invalid"
    assert invalid["error"] == "no verdict marker in the answer" and invalid["source"] == ""
    assert invalid["raw_cut"] is True
    assert invalid["raw_output"].startswith(HOSTILE)
    assert len(invalid["raw_output"]) == checks.RAW_ANSWER_CAP < invalid["raw_length"]
    assert metrics["invalid_reasons"] == {"no verdict marker in the answer": 1}

    flipped_ab, flipped_ba = pairs[1]["ab"], pairs[1]["ba"]
    assert (flipped_ab["verdict"], flipped_ab["pair_verdict"]) == ("first", "A")
    assert (flipped_ba["verdict"], flipped_ba["pair_verdict"]) == ("first", "B")
    assert flipped_ab["correct"] and not flipped_ba["correct"]

    request, index, order = items[2]
    row = rows[2]
    assert (row["pair"], row["order"], row["prompt"]) == (index, order, request.prompt)
    assert row["messages"] == [
        {"role": m["role"], "content": m["content"]} for m in request.messages
    ]
    assert row["finish_reason"] == "stop" and row["source"] == "text" and not row["raw_cut"]


def test_a_check_stored_without_answers_has_no_answer_pairs() -> None:
    assert checks.sanity_answer_pairs(None) == []
    assert checks.sanity_answer_pairs([]) == []


def _check_page(client: Client, check: JudgeCheck) -> str:
    url = reverse(
        "judging:check",
        kwargs={"project": check.project.slug, "judge": check.judge_id, "check": check.pk},
    )
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_the_check_page_shows_each_answer_escaped_and_its_figures_count_those_rows(
    project: Any, members: dict[str, Any], fake_server: FakeOpenAIServer
) -> None:
    # Every answer is hostile; the first pair's answers are refusals (no verdict); the judge
    # always picks the first response shown, so every pair with two verdicts flips.
    fake_server.configure(
        verdict="A",
        verdict_template=HOSTILE + " [[{verdict}]]",
        rules=(FaultRule(contains=checks.SANITY_PAIRS[0][0], faults=("refusal",) * 8),),
    )
    judge = make_judge(
        project,
        name="Answers judge",
        backend="openai",
        model="fake-judge",
        base_url=fake_server.base_url,
        params={"backoff_base_s": 0.01, "timeout_s": 10.0, "http_client": "httpx"},
    )
    check = checks.judge_check_execute(
        check=checks.judge_check_start(actor=None, judge=judge, dispatch=False)
    )
    sanity = check.metrics["sanity"]
    assert 0 < sanity["n_valid"] < sanity["n_requests"]
    client = Client()
    client.force_login(members["viewer"])
    page = _check_page(client, check)

    assert 'id="sanity-answers"' in page
    assert len(re.findall(r"<tr data-pair=", page)) == len(checks.SANITY_PAIRS)
    assert len(re.findall(r'<td class="answer" data-order="(?:AB|BA)"', page)) == len(
        sanity["answers"]
    )
    assert HOSTILE not in page and "&lt;script&gt;alert(" in page
    assert "✗ no verdict" in page and "✗ no, flipped" in page
    assert page.count('data-consistent="no"') == sanity["n_pairs_both_valid"] > 0

    links = {link.kind: link for link in figure_links(page)}
    assert set(links) == set(FIGURE_ROWS)
    for kind, link in links.items():
        # The link opens the answers table on this page: its marked rows are what it counts.
        assert link.href == "#sanity-answers"
        assert link.value == sanity[FIGURE_TOTALS[kind]], kind
        assert page.count(FIGURE_ROWS[kind]) == link.value, kind


@pytest.mark.django_db
def test_a_check_stored_before_answers_were_kept_shows_its_figures_without_links(
    project: Any, members: dict[str, Any]
) -> None:
    judge = make_judge(project, name="Offline judge")
    check = checks.judge_check_execute(
        check=checks.judge_check_start(actor=None, judge=judge, dispatch=False)
    )
    metrics = dict(check.metrics)
    sanity = {k: v for k, v in metrics["sanity"].items() if k != "answers"}
    metrics["sanity"] = {**sanity, "samples": [HOSTILE]}
    JudgeCheck.objects.filter(pk=check.pk).update(metrics=metrics)
    client = Client()
    client.force_login(members["viewer"])
    page = _check_page(client, check)

    assert "data-no-answers" in page and "stored before the answers were kept" in page
    assert "data-figure-link" not in page and "<tr data-pair=" not in page
    assert f"data-parse-rate>{sanity['n_valid']} / {sanity['n_requests']}<" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
