"""Inter-annotator agreement and consensus for pairwise preference labels (A, B, tie).

Pure computation on a table of ratings ``(item, annotator, label, domain)``; no database. The
statistics come from maintained libraries: Cohen's and Fleiss' kappa from statsmodels, and
Krippendorff's alpha from the ``krippendorff`` package. Every label is treated as nominal.

How incomplete data is handled:

* **Cohen's kappa** is computed for each pair of annotators on the items both labelled.
* **Fleiss' kappa** needs the same number of raters on every item. It uses the items that have
  the most common number of labels (among items with two or more; on a tie, the larger
  number) and reports how many items that left out. The raters may differ from item to item.
* **Krippendorff's alpha** uses every item with two or more labels; it handles missing labels.
* **Agreement with consensus** of an annotator is measured against the consensus of the *other*
  annotators of each item (leave one out), so the annotator's own vote does not count towards
  the consensus it is compared with. Items where the others reach no consensus are counted
  separately.

A statistic that is undefined (for example a kappa when every label is the same, so chance
agreement is 1) is ``None``; the whole report is plain JSON (no NaN).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from itertools import combinations
from typing import Any, NamedTuple

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

LABELS: tuple[str, ...] = ("A", "B", "tie")
_CODE = {label: code for code, label in enumerate(LABELS)}


class Rating(NamedTuple):
    """One annotator's label for one item; ``domain`` is the item's domain, if known."""

    item: Hashable
    annotator: str
    label: str
    domain: str | None = None


def _number(value: Any) -> float | None:
    """A finite float, or None for NaN, infinity and missing values."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def consensus(labels: Iterable[str], min_agreement: float = 0.5, min_labels: int = 1) -> str | None:
    """The label an item's annotators agree on, or ``None`` when they reach no consensus.

    The most frequent label is the consensus when it is the only most frequent one, it holds at
    least ``min_agreement`` of the labels (a share, inclusive), and there are at least
    ``min_labels`` labels. With the default 0.5: A, A, B -> A; A, B -> None; A, A, B, B ->
    None; A, A, B, tie -> A.
    """
    counts = Counter(labels)
    total = sum(counts.values())
    if total == 0 or total < min_labels:
        return None
    ranked = counts.most_common(2)
    label, count = ranked[0]
    if len(ranked) > 1 and ranked[1][1] == count:
        return None
    return label if count / total >= min_agreement else None


def _collect(
    ratings: Iterable[Rating | tuple[Any, ...]],
) -> tuple[dict[Hashable, dict[str, str]], dict[Hashable, str | None]]:
    """Index ratings by item and annotator, checking labels, duplicates and domains."""
    by_item: dict[Hashable, dict[str, str]] = defaultdict(dict)
    domains: dict[Hashable, str | None] = {}
    for raw in ratings:
        rating = Rating(*raw)
        if rating.label not in _CODE:
            raise ValueError(f"label {rating.label!r} is not one of {', '.join(LABELS)}")
        labels = by_item[rating.item]
        if rating.annotator in labels:
            raise ValueError(f"{rating.annotator} labelled item {rating.item!r} more than once")
        labels[rating.annotator] = rating.label
        known = domains.get(rating.item)
        if known is not None and rating.domain is not None and known != rating.domain:
            raise ValueError(f"item {rating.item!r} has two domains: {known}, {rating.domain}")
        if known is None:
            domains[rating.item] = rating.domain
    return dict(by_item), domains


def consensus_labels(
    ratings: Iterable[Rating | tuple[Any, ...]], min_agreement: float = 0.5, min_labels: int = 1
) -> dict[Hashable, str | None]:
    """Each item's consensus label (``None`` where there is none), see :func:`consensus`."""
    by_item, _ = _collect(ratings)
    return {
        item: consensus(labels.values(), min_agreement, min_labels)
        for item, labels in by_item.items()
    }


def _cohen(by_item: Mapping[Hashable, Mapping[str, str]], annotators: list[str]) -> list[dict]:
    results: list[dict[str, Any]] = []
    for first, second in combinations(annotators, 2):
        table = np.zeros((len(LABELS), len(LABELS)))
        for labels in by_item.values():
            if first in labels and second in labels:
                table[_CODE[labels[first]], _CODE[labels[second]]] += 1
        n = int(table.sum())
        if n == 0:
            continue
        # A table with one category only has chance agreement 1: statsmodels divides by zero
        # and returns NaN, which is reported as None ("undefined").
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = cohens_kappa(table)
        results.append(
            {
                "annotators": [first, second],
                "n": n,
                "observed_agreement": float(np.trace(table) / n),
                "kappa": _number(result.kappa),
                "ci_low": _number(result.kappa_low),
                "ci_high": _number(result.kappa_upp),
            }
        )
    return results


def _fleiss(by_item: Mapping[Hashable, Mapping[str, str]]) -> dict[str, Any]:
    sizes = Counter(len(labels) for labels in by_item.values() if len(labels) >= 2)
    if not sizes:
        return {"kappa": None, "n_items": 0, "raters_per_item": None, "n_items_excluded": 0}
    raters = max(sizes, key=lambda size: (sizes[size], size))
    rows = [
        [_CODE[label] for label in labels.values()]
        for labels in by_item.values()
        if len(labels) == raters
    ]
    counts, _ = aggregate_raters(np.array(rows), n_cat=len(LABELS))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = fleiss_kappa(counts, method="fleiss")
    return {
        "kappa": _number(kappa),
        "n_items": len(rows),
        "raters_per_item": raters,
        "n_items_excluded": sum(sizes.values()) - len(rows),
    }


def _krippendorff(
    by_item: Mapping[Hashable, Mapping[str, str]], annotators: list[str]
) -> float | None:
    pairable = [labels for labels in by_item.values() if len(labels) >= 2]
    if not pairable:
        return None
    data = np.full((len(annotators), len(pairable)), np.nan)
    row_of = {annotator: row for row, annotator in enumerate(annotators)}
    for column, labels in enumerate(pairable):
        for annotator, label in labels.items():
            data[row_of[annotator], column] = _CODE[label]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            alpha = krippendorff.alpha(
                reliability_data=data,
                level_of_measurement="nominal",
                value_domain=list(range(len(LABELS))),
            )
    except (ValueError, ZeroDivisionError):
        return None  # all values identical: expected disagreement is 0, alpha undefined
    return _number(alpha)


def _per_annotator(
    by_item: Mapping[Hashable, Mapping[str, str]], annotators: list[str], min_agreement: float
) -> list[dict[str, Any]]:
    results = []
    for annotator in annotators:
        labelled = agreed = no_consensus = compared = 0
        for labels in by_item.values():
            if annotator not in labels:
                continue
            labelled += 1
            others = [label for name, label in labels.items() if name != annotator]
            if not others:
                continue
            reference = consensus(others, min_agreement)
            if reference is None:
                no_consensus += 1
                continue
            compared += 1
            agreed += labels[annotator] == reference
        results.append(
            {
                "annotator": annotator,
                "n_labels": labelled,
                "n_compared": compared,
                "n_no_consensus": no_consensus,
                "agreement_with_consensus": agreed / compared if compared else None,
            }
        )
    return results


def _percent_agreement(by_item: Mapping[Hashable, Mapping[str, str]]) -> float | None:
    # Raw agreement (share of agreeing label pairs per item, averaged) is shown beside the
    # chance-corrected statistics so that a low kappa on skewed labels can be read correctly.
    shares = []
    for labels in by_item.values():
        m = len(labels)
        if m >= 2:
            counts = Counter(labels.values()).values()
            shares.append(sum(c * (c - 1) for c in counts) / (m * (m - 1)))
    return float(np.mean(shares)) if shares else None


def _statistics(
    by_item: Mapping[Hashable, Mapping[str, str]], min_agreement: float
) -> dict[str, Any]:
    annotators = sorted({name for labels in by_item.values() for name in labels})
    consensus_counts: Counter[str] = Counter()
    for labels in by_item.values():
        label = consensus(labels.values(), min_agreement)
        consensus_counts[label if label is not None else "none"] += 1
    cohen = _cohen(by_item, annotators)
    kappas = [pair["kappa"] for pair in cohen if pair["kappa"] is not None]
    return {
        "n_items": len(by_item),
        "n_items_multiple": sum(1 for labels in by_item.values() if len(labels) >= 2),
        "n_annotators": len(annotators),
        "n_ratings": sum(len(labels) for labels in by_item.values()),
        "label_counts": {
            label: sum(1 for labels in by_item.values() for v in labels.values() if v == label)
            for label in LABELS
        },
        "percent_agreement": _percent_agreement(by_item),
        "cohen_kappa": cohen,
        "cohen_kappa_mean": float(np.mean(kappas)) if kappas else None,
        "fleiss_kappa": _fleiss(by_item),
        "krippendorff_alpha": _krippendorff(by_item, annotators),
        "per_annotator": _per_annotator(by_item, annotators, min_agreement),
        "consensus": {
            "min_agreement": min_agreement,
            "counts": {label: consensus_counts[label] for label in (*LABELS, "none")},
        },
    }


def agreement_report(
    ratings: Iterable[Rating | tuple[Any, ...]], *, min_agreement: float = 0.5
) -> dict[str, Any]:
    """Agreement statistics overall and per domain, as plain JSON-ready data.

    ``ratings`` are :class:`Rating` tuples ``(item, annotator, label, domain=None)`` with labels
    ``A``, ``B`` or ``tie``. ``min_agreement`` is the consensus threshold (see
    :func:`consensus`). Returns the overall statistics plus ``by_domain``: the same statistics
    for each domain (items without a domain are grouped under ``""``).
    ValueError on an unknown label, a repeated (item, annotator) or an item with two domains.
    """
    by_item, domains = _collect(ratings)
    report = _statistics(by_item, min_agreement)
    grouped: dict[str, dict[Hashable, dict[str, str]]] = defaultdict(dict)
    for item, labels in by_item.items():
        grouped[domains.get(item) or ""][item] = labels
    report["by_domain"] = {
        domain: _statistics(items, min_agreement) for domain, items in sorted(grouped.items())
    }
    return report
