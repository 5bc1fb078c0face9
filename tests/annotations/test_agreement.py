"""Agreement statistics, checked against independent textbook computations written here."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from apps.annotations.agreement import (
    LABELS,
    Rating,
    agreement_report,
    consensus,
    consensus_labels,
)
from apps.datasets.importers import get_importer

PANDALM = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pandalm" / "testset-v1.json"
)


# Independent computations, from the textbook definitions.


def by_item(ratings: Iterable[Rating]) -> dict[Hashable, dict[str, str]]:
    items: dict[Hashable, dict[str, str]] = defaultdict(dict)
    for rating in ratings:
        items[rating.item][rating.annotator] = rating.label
    return items


def cohen_from_confusion(items: dict[Hashable, dict[str, str]], a: str, b: str) -> float:
    matrix: Counter[tuple[str, str]] = Counter(
        (labels[a], labels[b]) for labels in items.values() if a in labels and b in labels
    )
    n = sum(matrix.values())
    observed = sum(matrix[(label, label)] for label in LABELS) / n
    rows = {label: sum(matrix[(label, other)] for other in LABELS) for label in LABELS}
    cols = {label: sum(matrix[(other, label)] for other in LABELS) for label in LABELS}
    expected = sum(rows[label] * cols[label] for label in LABELS) / n**2
    return (observed - expected) / (1 - expected)


def fleiss_textbook(items: dict[Hashable, dict[str, str]], raters: int) -> float:
    rows = [Counter(labels.values()) for labels in items.values() if len(labels) == raters]
    total = len(rows)
    agreement = [
        (sum(count[label] ** 2 for label in LABELS) - raters) / (raters * (raters - 1))
        for count in rows
    ]
    p_bar = sum(agreement) / total
    shares = [sum(count[label] for count in rows) / (total * raters) for label in LABELS]
    p_e = sum(share**2 for share in shares)
    return (p_bar - p_e) / (1 - p_e)


def krippendorff_coincidence(items: dict[Hashable, dict[str, str]]) -> float:
    coincidence: defaultdict[tuple[str, str], float] = defaultdict(float)
    for labels in items.values():
        values = list(labels.values())
        m = len(values)
        if m < 2:
            continue
        for i, j in ((i, j) for i in range(m) for j in range(m) if i != j):
            coincidence[(values[i], values[j])] += 1 / (m - 1)
    totals = {c: sum(coincidence[(c, k)] for k in LABELS) for c in LABELS}
    n = sum(totals.values())
    observed = sum(coincidence[(c, k)] for c in LABELS for k in LABELS if c != k)
    expected = sum(totals[c] * totals[k] for c in LABELS for k in LABELS if c != k) / (n - 1)
    return 1 - observed / expected


def check_against_textbook(ratings: list[Rating], report: dict[str, Any]) -> None:
    items = by_item(ratings)
    annotators = sorted({rating.annotator for rating in ratings})
    pairs = {tuple(entry["annotators"]): entry for entry in report["cohen_kappa"]}
    for a, b in combinations(annotators, 2):
        assert pairs[(a, b)]["kappa"] == pytest.approx(cohen_from_confusion(items, a, b), abs=1e-9)
    raters = report["fleiss_kappa"]["raters_per_item"]
    assert report["fleiss_kappa"]["kappa"] == pytest.approx(
        fleiss_textbook(items, raters), abs=1e-9
    )
    assert report["fleiss_kappa"]["n_items"] == sum(1 for v in items.values() if len(v) == raters)
    assert report["krippendorff_alpha"] == pytest.approx(krippendorff_coincidence(items), abs=1e-9)


def synthetic(seed: int, n_items: int, annotators: int, missing: float) -> list[Rating]:
    """Noisy annotators around a hidden truth, with some labels missing."""
    rng = random.Random(seed)
    ratings = []
    for item in range(n_items):
        truth = rng.choice(LABELS)
        for k in range(annotators):
            if rng.random() < missing:
                continue
            label = truth if rng.random() < 0.7 else rng.choice(LABELS)
            ratings.append(Rating(item, f"ann{k}", label, f"d{item % 3}"))
    return ratings


@pytest.fixture(scope="module")
def pandalm_ratings() -> list[Rating]:
    if not PANDALM.is_file():
        pytest.skip("pandalm/testset-v1.json is not present (the shared data folder)")
    with PANDALM.open("rb") as fileobj:
        records = get_importer("pandalm").parse_all(fileobj)
    return [
        Rating(record.external_id, annotator, choice, record.metadata["motivation_app"])
        for record in records
        for annotator, choice in record.annotations
    ]


def test_pandalm_agreement_matches_the_textbook_formulas(pandalm_ratings: list[Rating]) -> None:
    report = agreement_report(pandalm_ratings)
    assert report["n_items"] == 999
    assert report["n_annotators"] == 3
    assert report["fleiss_kappa"]["raters_per_item"] == 3
    assert report["fleiss_kappa"]["n_items_excluded"] == 0
    check_against_textbook(pandalm_ratings, report)
    json.dumps(report, allow_nan=False)


def test_pandalm_agreement_with_missing_labels(pandalm_ratings: list[Rating]) -> None:
    # Drop annotator3's label on every fourth item: Fleiss keeps the complete items only,
    # Krippendorff uses the rest as well.
    thinned = [
        r for r in pandalm_ratings if not (r.annotator.endswith("3") and int(str(r.item)) % 4 == 0)
    ]
    report = agreement_report(thinned)
    assert report["fleiss_kappa"]["n_items"] == 999 - 250
    assert report["fleiss_kappa"]["n_items_excluded"] == 250
    check_against_textbook(thinned, report)


def test_pandalm_agreement_per_domain(pandalm_ratings: list[Rating]) -> None:
    report = agreement_report(pandalm_ratings)
    domains = Counter(r.domain for r in pandalm_ratings)
    assert set(report["by_domain"]) == set(domains)
    domain = domains.most_common(1)[0][0]
    subset = [r for r in pandalm_ratings if r.domain == domain]
    section = report["by_domain"][domain]
    assert section["n_ratings"] == len(subset)
    check_against_textbook(subset, section)


def test_synthetic_agreement_matches_the_textbook_formulas() -> None:
    ratings = synthetic(seed=3, n_items=400, annotators=5, missing=0.2)
    report = agreement_report(ratings)
    check_against_textbook(ratings, report)
    for domain, section in report["by_domain"].items():
        check_against_textbook([r for r in ratings if r.domain == domain], section)
    assert len(report["cohen_kappa"]) == 10
    json.dumps(report, allow_nan=False)


def test_perfect_agreement() -> None:
    ratings = [
        Rating(item, name, LABELS[item % 3]) for item in range(30) for name in ("x", "y", "z")
    ]
    report = agreement_report(ratings)
    assert [pair["kappa"] for pair in report["cohen_kappa"]] == pytest.approx([1.0] * 3)
    assert report["fleiss_kappa"]["kappa"] == pytest.approx(1.0)
    assert report["krippendorff_alpha"] == pytest.approx(1.0)
    assert report["percent_agreement"] == pytest.approx(1.0)
    assert {entry["agreement_with_consensus"] for entry in report["per_annotator"]} == {1.0}
    assert report["consensus"]["counts"] == {"A": 10, "B": 10, "tie": 10, "none": 0}
    assert set(report["by_domain"]) == {""}


def test_undefined_statistics_are_none_not_nan() -> None:
    ratings = [Rating(item, name, "A") for item in range(10) for name in ("x", "y")]
    report = agreement_report(ratings)
    assert report["cohen_kappa"][0]["kappa"] is None
    assert report["cohen_kappa"][0]["observed_agreement"] == 1.0
    assert report["fleiss_kappa"]["kappa"] is None
    assert report["krippendorff_alpha"] is None
    assert report["cohen_kappa_mean"] is None
    json.dumps(report, allow_nan=False)


def test_no_overlap_between_annotators() -> None:
    report = agreement_report([Rating(1, "x", "A"), Rating(2, "y", "B")])
    assert report["cohen_kappa"] == []
    assert report["fleiss_kappa"] == {
        "kappa": None,
        "n_items": 0,
        "raters_per_item": None,
        "n_items_excluded": 0,
    }
    assert report["krippendorff_alpha"] is None
    assert report["percent_agreement"] is None
    assert [e["n_compared"] for e in report["per_annotator"]] == [0, 0]


def test_fleiss_uses_the_most_common_number_of_raters() -> None:
    ratings = [Rating(i, n, LABELS[(i + k) % 2]) for i in range(5) for k, n in enumerate("xyz")]
    ratings += [Rating(10 + i, n, "A") for i in range(2) for n in "xy"]
    ratings += [Rating(20, "x", "B")]  # a single label: not pairable
    fleiss = agreement_report(ratings)["fleiss_kappa"]
    assert (fleiss["raters_per_item"], fleiss["n_items"], fleiss["n_items_excluded"]) == (3, 5, 2)


def test_agreement_with_consensus_leaves_the_annotator_out() -> None:
    ratings = []
    for item in range(20):
        label = LABELS[item % 2]
        other = LABELS[(item + 1) % 2]
        ratings += [Rating(item, name, label) for name in ("w", "x", "y")]
        ratings.append(Rating(item, "z", other))
    entries = {e["annotator"]: e for e in agreement_report(ratings)["per_annotator"]}
    assert entries["z"]["agreement_with_consensus"] == 0.0
    assert entries["z"]["n_compared"] == 20
    assert entries["w"]["agreement_with_consensus"] == 1.0
    assert entries["w"]["n_labels"] == 20

    # x, y: A and z: B. Without x's own vote the others split, so x is not compared at all.
    split = [
        Rating(item, name, label)
        for item in range(5)
        for name, label in zip("xyz", "AAB", strict=True)
    ]
    entries = {e["annotator"]: e for e in agreement_report(split)["per_annotator"]}
    assert (entries["x"]["n_compared"], entries["x"]["n_no_consensus"]) == (0, 5)
    assert entries["x"]["agreement_with_consensus"] is None
    assert (entries["z"]["n_compared"], entries["z"]["agreement_with_consensus"]) == (5, 0.0)


@pytest.mark.parametrize(
    ("labels", "min_agreement", "min_labels", "expected"),
    [
        (["A", "A", "B"], 0.5, 1, "A"),
        (["A", "B"], 0.5, 1, None),
        (["A", "A", "B", "B"], 0.5, 1, None),
        (["A", "A", "B", "tie"], 0.5, 1, "A"),
        (["tie", "tie", "A"], 0.5, 1, "tie"),
        (["A", "A", "B"], 0.75, 1, None),
        (["A", "A", "A", "B"], 0.75, 1, "A"),
        (["B"], 0.5, 1, "B"),
        (["B"], 0.5, 2, None),
        ([], 0.5, 1, None),
    ],
)
def test_consensus(
    labels: list[str], min_agreement: float, min_labels: int, expected: str | None
) -> None:
    assert consensus(labels, min_agreement, min_labels) == expected


def test_consensus_labels_per_item() -> None:
    ratings = [(1, "x", "A"), (1, "y", "A"), (2, "x", "A"), (2, "y", "B"), (3, "x", "tie")]
    assert consensus_labels(ratings) == {1: "A", 2: None, 3: "tie"}
    assert consensus_labels(ratings, min_labels=2) == {1: "A", 2: None, 3: None}


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ([(1, "x", "C")], "label 'C' is not one of A, B, tie"),
        ([(1, "x", "A"), (1, "x", "B")], "x labelled item 1 more than once"),
        ([(1, "x", "A", "d1"), (1, "y", "A", "d2")], "item 1 has two domains"),
    ],
)
def test_bad_ratings_are_refused(ratings: list[tuple[Any, ...]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        agreement_report(ratings)
