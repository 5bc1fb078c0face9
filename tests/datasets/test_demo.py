"""The demo dataset: its design, its idempotent seeding, and the masked drift it exists to show."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from apps.accounts import demo as accounts_demo
from apps.core.demo import DemoContext
from apps.core.models import AuditEvent
from apps.datasets import demo
from apps.datasets.demo_pairs import DOMAINS, demo_pairs
from apps.datasets.models import Pair, ReferenceSet
from apps.drift.stats import PairedOutcomes, compute_drift_report
from apps.judging.backends.offline import is_refusal, judge_texts
from apps.judging.protocol import aggregate_pair, to_pair_verdict
from apps.rubrics import demo as rubrics_demo
from apps.rubrics.spec import CriterionSpec, RubricSpec


def test_the_demo_pairs_are_balanced_and_well_formed() -> None:
    rows = demo_pairs()
    assert 40 <= len(rows) <= 60
    assert {"helpfulness", "harmlessness"} <= {row["domain"] for row in rows}
    by_domain = Counter(row["domain"] for row in rows)
    assert by_domain["harmlessness"] >= 15 and by_domain["helpfulness"] >= 15
    for domain in DOMAINS:
        labels = Counter(row["label"] for row in rows if row["domain"] == domain)
        assert abs(labels["A"] - labels["B"]) <= 1, domain
    assert len({row["id"] for row in rows}) == len(rows)
    assert len({(row["prompt"], row["response_a"]) for row in rows}) == len(rows)


def test_harmlessness_prefers_a_short_refusal_over_a_long_compliant_answer() -> None:
    for row in demo_pairs():
        if row["domain"] != "harmlessness":
            continue
        preferred = row["response_a"] if row["label"] == "A" else row["response_b"]
        other = row["response_b"] if row["label"] == "A" else row["response_a"]
        assert is_refusal(preferred), row["id"]
        assert not is_refusal(other), row["id"]
        assert len(preferred.split()) * 1.8 < len(other.split()), row["id"]


def _spec(instructions: str, criteria: list[dict[str, Any]]) -> RubricSpec:
    return RubricSpec(
        instructions=instructions,
        criteria=tuple(
            CriterionSpec(
                key=c["key"],
                title=c["title"],
                description=c["description"],
                weight=c["weight"],
                kind=c["kind"],
            )
            for c in criteria
        ),
    )


def _pair_verdict(rubric: RubricSpec, row: dict[str, Any]) -> str:
    """Judge both orders, as a run does, and aggregate them into the pair's verdict."""
    ab = judge_texts(rubric, row["prompt"], row["response_a"], row["response_b"])
    ba = judge_texts(rubric, row["prompt"], row["response_b"], row["response_a"])
    aggregated = aggregate_pair(
        to_pair_verdict(ab.verdict, "AB"), to_pair_verdict(ba.verdict, "BA")
    )
    return aggregated.verdict


def test_the_demo_rubric_edit_is_a_masked_drift_on_harmlessness() -> None:
    """Demo rubric v1 vs v2 with the offline judge: harmlessness drops, the total holds."""
    v1 = _spec(rubrics_demo.V1_INSTRUCTIONS, rubrics_demo.V1_CRITERIA)
    v2 = _spec(rubrics_demo.V2_INSTRUCTIONS, rubrics_demo.V2_CRITERIA)
    rows = demo_pairs()
    outcomes = PairedOutcomes.from_lists(
        domain=[row["domain"] for row in rows],
        gold=[row["label"] for row in rows],
        baseline=[_pair_verdict(v1, row) for row in rows],
        candidate=[_pair_verdict(v2, row) for row in rows],
        length_a=[len(row["response_a"]) for row in rows],
        length_b=[len(row["response_b"]) for row in rows],
        refuses_a=[is_refusal(row["response_a"]) for row in rows],
        refuses_b=[is_refusal(row["response_b"]) for row in rows],
    )

    report = compute_drift_report(outcomes, n_bootstrap=200)

    harmless = report["by_domain"]["harmlessness"]
    helpful = report["by_domain"]["helpfulness"]
    assert harmless["baseline_accuracy"] >= 0.9
    assert harmless["delta"] <= -0.2
    assert helpful["delta"] >= 0
    assert report["overall"]["delta"] >= -0.01
    kinds = {(flag["kind"], flag["domain"]) for flag in report["flags"]}
    assert ("masked_drift", "harmlessness") in kinds
    assert ("domain_drift", "harmlessness") in kinds
    assert not any(kind == "domain_drift" and domain != "harmlessness" for kind, domain in kinds)


@pytest.mark.django_db
def test_seeding_imports_the_pairs_and_freezes_the_reference_set() -> None:
    ctx = DemoContext(write=lambda _line: None)
    accounts_demo.seed_demo(ctx)
    demo.seed_demo(ctx)

    dataset = ctx.objects["dataset"]
    reference_set = ctx.objects["reference_set"]
    rows = demo_pairs()
    assert dataset.pairs.count() == len(rows)
    assert reference_set.name == demo.REFERENCE_NAME
    assert reference_set.item_count == len(rows)
    assert reference_set.domain_counts == dict(Counter(row["domain"] for row in rows))
    assert AuditEvent.objects.filter(action="dataset.import").count() == 1
    gold = dict(dataset.pairs.values_list("external_id", "gold_label"))
    assert gold == {row["id"]: row["label"] for row in rows}


@pytest.mark.django_db
def test_seeding_twice_changes_nothing() -> None:
    ctx = DemoContext(write=lambda _line: None)
    accounts_demo.seed_demo(ctx)
    demo.seed_demo(ctx)
    before = (
        Pair.objects.count(),
        ReferenceSet.objects.count(),
        AuditEvent.objects.count(),
        ctx.objects["reference_set"].pk,
    )
    again = DemoContext(write=lambda _line: None)
    accounts_demo.seed_demo(again)
    demo.seed_demo(again)
    after = (
        Pair.objects.count(),
        ReferenceSet.objects.count(),
        AuditEvent.objects.count(),
        again.objects["reference_set"].pk,
    )
    assert after == before
