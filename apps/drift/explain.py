"""Plain-language sentences about a drift report: headline, flag explanations, power and
direction notes. Pure functions over the JSON a report stores, so pages, e-mails, webhooks and
the command line say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.drift.flags import format_p, format_points

# What a page shows for a missing number (an en dash).
DASH = "\u2013"

# Which flag makes the headline when a report has several: the masked drift is the case the
# guard exists for, then plain domain drift, then an aggregate drop, then a change of preference.
HEADLINE_ORDER = ("masked_drift", "domain_drift", "aggregate_drop", "directional_shift")

# (toward the property, away from it) for each direction test of the report.
DIRECTION_WORDS: dict[str, tuple[str, str]] = {
    "toward_longer": ("the longer response", "the shorter response"),
    "toward_refusal": ("the refusing response", "the response that does not refuse"),
    "toward_position_a": ("A", "B"),
}
FLAG_TITLES: dict[str, str] = {
    "masked_drift": "Masked drift",
    "domain_drift": "Domain drift",
    "aggregate_drop": "Aggregate drop",
    "directional_shift": "Directional shift",
}
DIRECTION_TITLES: dict[str, str] = {
    "toward_longer": "Length",
    "toward_refusal": "Refusal",
    "toward_position_a": "Position",
}


def points(delta: float | None) -> str:
    """A delta as signed points (``-9.8 pts``), or a dash."""
    return DASH if delta is None else format_points(delta)


def headline(flags: Sequence[Mapping[str, Any]]) -> str:
    """The one line an inbox shows for a flagged report: the most telling flag's message.

    Among flags of the same kind the largest drop (or the smallest p) wins.
    """
    if not flags:
        return "No flag"
    rank = {kind: i for i, kind in enumerate(HEADLINE_ORDER)}

    def key(flag: Mapping[str, Any]) -> tuple[int, float, float]:
        delta = flag.get("delta")
        p = flag.get("p")
        return (
            rank.get(str(flag.get("kind")), len(rank)),
            delta if delta is not None else 0.0,
            p if p is not None else 1.0,
        )

    return str(min(flags, key=key).get("message", ""))


def alert_headline(
    flags: Sequence[Mapping[str, Any]],
    *,
    baseline_number: int,
    candidate_number: int,
    lineage: str = "",
) -> str:
    """An alert's one line: which versions were compared, then the most telling flag.

    "v1 → v3: helpfulness fell by 12.0 pts", and "(forked from v2, blocked by alert 4: ...)"
    after it when the candidate descends from a blocked version.
    """
    line = f"v{baseline_number} → v{candidate_number}: {headline(flags)}"
    return f"{line} ({lineage})" if lineage else line


def explain_flag(flag: Mapping[str, Any], overall: Mapping[str, Any]) -> str:
    """What a flag means, for a reader who does not know the statistics."""
    kind = flag.get("kind")
    domain = flag.get("domain") or "all pairs"
    delta = flag.get("delta")
    p = flag.get("p")
    p_text = format_p(p) if p is not None else "p unknown"
    if kind == "domain_drift":
        return (
            f"On {domain}, accuracy against the trusted labels changed by {points(delta)} "
            f"from the baseline to the candidate. A change this large is unlikely to be chance "
            f"({p_text} after Holm's correction for every test that can open an alert)."
        )
    if kind == "masked_drift":
        return (
            f"On {domain} accuracy changed by {points(delta)} ({p_text}, Holm) while the "
            f"overall accuracy moved only {points(overall.get('delta'))}: a check of the "
            "aggregate score alone would have let this edit through."
        )
    if kind == "aggregate_drop":
        return (
            f"Accuracy over all pairs changed by {points(delta)} ({p_text}, McNemar's exact "
            "test after Holm's correction), beyond the guard's tolerance."
        )
    if kind == "directional_shift":
        direction = str(flag.get("direction") or "")
        toward, _away = DIRECTION_WORDS.get(direction, ("one side", "the other"))
        return (
            f"The judge changed what it prefers on {domain}: the verdicts that changed moved "
            f"toward {toward} far more often than chance allows ({p_text} after Holm's "
            "correction), whether or not accuracy fell."
        )
    return str(flag.get("message", ""))


def direction_sentence(key: str, test: Mapping[str, Any] | None) -> str:
    """``61 of 78 flips moved toward the shorter response, p<0.001`` for one direction test."""
    toward_words, away_words = DIRECTION_WORDS.get(key, ("one side", "the other"))
    n = int((test or {}).get("n") or 0)
    share = (test or {}).get("share")
    if not n or share is None:
        return f"No flip tells the responses apart here ({DIRECTION_TITLES.get(key, key)})."
    toward = round(share * n)
    p = (test or {}).get("p")
    p_text = f", {format_p(p)}" if p is not None else ""
    if toward * 2 >= n:
        return f"{toward} of {n} flips moved toward {toward_words}{p_text}"
    return f"{n - toward} of {n} flips moved toward {away_words}{p_text}"


def power_note(n: int, mde: float | None, min_effect: float) -> str | None:
    """A warning when a scope is too small to see the drops the guard cares about.

    ``n=12: drops smaller than 31 pts could go unseen``; None when the scope can detect a drop
    of ``min_effect`` (with 80% power).
    """
    if n <= 0:
        return None
    if mde is None:
        return f"n={n}: too few pairs to detect any drop"
    if mde <= min_effect:
        return None
    return f"n={n}: drops smaller than {mde * 100:.0f} pts could go unseen"


def summary_lines(report_stats: Mapping[str, Any], flags: Sequence[Mapping[str, Any]]) -> list[str]:
    """A short human summary of a report for the command line and e-mail."""
    overall = report_stats.get("overall") or {}
    lines = [
        f"overall: n={overall.get('n', 0)}, baseline {_acc(overall.get('baseline_accuracy'))}, "
        f"candidate {_acc(overall.get('candidate_accuracy'))}, delta {points(overall.get('delta'))}"
    ]
    for domain, scope in sorted((report_stats.get("by_domain") or {}).items()):
        p_holm = scope.get("p_holm")
        lines.append(
            f"  {domain}: n={scope.get('n', 0)}, delta {points(scope.get('delta'))}"
            + (f" ({format_p(p_holm)}, Holm)" if p_holm is not None else "")
            + f", flips {scope.get('flips', 0)}"
        )
    if flags:
        lines.append("flags:")
        lines.extend(f"  [{flag.get('kind')}] {flag.get('message')}" for flag in flags)
    else:
        lines.append("no flag")
    return lines


def _acc(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"
