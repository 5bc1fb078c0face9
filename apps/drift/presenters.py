"""How a drift report reads on its page: the charts, the statistics table (each figure linked to
the flipped pairs behind it), the alert family, flags and notes worded for people, the rubric
diff and the filtered page of flipped pairs.

Kept apart from the views so they stay thin: a view loads the report and renders what
:func:`report_context` returns.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import QueryDict
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from apps.accounts.permissions import Capability
from apps.drift import explain, selectors
from apps.drift.charts import accuracy_chart
from apps.drift.explain import DASH
from apps.drift.forest import forest_chart
from apps.drift.forms import FlipFilterForm, ResolveForm
from apps.drift.models import DriftReport
from apps.rubrics.diff import diff_rubrics

FLIPS_PER_PAGE = 20
DIFF_PARTIAL = "rubrics/partials/_diff.html"
SCOPE_FIELDS = (
    "n",
    "baseline_accuracy",
    "candidate_accuracy",
    "delta",
    "delta_ci",
    "mcnemar_p",
    "p_holm",
    "q_bh",
    "flip_rate",
    "flips",
    "mde",
    "noise_floor",
)


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal; empty when unknown."""
    return "" if value is None else f"{value * 100:.1f}%"


def p_text(value: float | None) -> str:
    """A p-value as the table shows it (``<0.001`` below that); empty when unknown."""
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def scope_row(
    name: str,
    scope: dict[str, Any],
    min_effect: float,
    flagged: set[str],
    *,
    domain: str = "",
    flip_counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One line of the statistics table, with its numbers already worded for the page.

    ``domain`` is the domain the line stands for (empty for all pairs): the page links its
    figures to that domain's flipped pairs and judgments. ``flip_counts`` are its flips per
    direction (``selectors.flip_counts``).
    """
    counts = flip_counts or {}
    row = {field: scope.get(field) for field in SCOPE_FIELDS}
    ci = scope.get("delta_ci") or [None, None]
    noise = scope.get("noise_floor")
    row.update(
        name=name,
        domain=domain,
        regressions=counts.get(selectors.REGRESSION, 0),
        corrections=counts.get(selectors.CORRECTION, 0),
        flagged=name in flagged,
        baseline_pct=percent(scope.get("baseline_accuracy")) or DASH,
        candidate_pct=percent(scope.get("candidate_accuracy")) or DASH,
        delta_pts=explain.points(scope.get("delta")),
        ci_pts=(
            f"{ci[0] * 100:+.1f} to {ci[1] * 100:+.1f}"
            if ci[0] is not None and ci[1] is not None
            else ""
        ),
        p_text=p_text(scope.get("mcnemar_p")),
        holm_text=p_text(scope.get("p_holm")),
        bh_text=p_text(scope.get("q_bh")),
        flip_pct=percent(scope.get("flip_rate")),
        mde_text=f"{scope['mde'] * 100:.1f} pts" if scope.get("mde") is not None else "",
        noise_text=percent(noise) if noise is not None else "",
        power_note=explain.power_note(int(scope.get("n") or 0), scope.get("mde"), min_effect),
        noise_source=scope.get("noise_floor_source"),
        directions=[
            (key, explain.DIRECTION_TITLES[key], explain.direction_sentence(key, test), test)
            for key, test in (scope.get("direction") or {}).items()
        ],
    )
    return row


FAMILY_TITLES = {"accuracy": "Accuracy drop", **explain.DIRECTION_TITLES}


def family_context(report: DriftReport) -> dict[str, Any]:
    """The report's alert family (each test's raw and adjusted p) and its direction notes."""
    family = report.stats.get("family") or {}
    tests = [
        {
            "test": test.get("test"),
            "title": FAMILY_TITLES.get(str(test.get("test")), str(test.get("test"))),
            "scope": test.get("domain") or "all pairs",
            "p_text": p_text(test.get("p")),
            "adjusted_text": p_text(test.get("p_adjusted")),
            "weight_text": f"{test['weight'] * 100:.1f}%" if test.get("weight") else "",
            "survived": bool(test.get("survived")),
        }
        for test in family.get("tests") or []
    ]
    return {
        "family_tests": tests,
        "family_method": str(family.get("method") or "").capitalize(),
        "direction_notes": list(report.stats.get("direction_notes") or []),
    }


def rubric_diff(report: DriftReport) -> dict[str, Any]:
    """What changed between the report's two rubric versions."""
    return diff_rubrics(
        report.baseline_version.to_spec(), report.candidate_version.to_spec()
    ).to_dict()


def diff_template() -> str | None:
    """The rubric diff partial, when the rubrics app provides it."""
    try:
        get_template(DIFF_PARTIAL)
    except TemplateDoesNotExist:
        return None
    return DIFF_PARTIAL


def flips_context(report: DriftReport, query: QueryDict) -> dict[str, Any]:
    """The filter bar and the page of the report's flipped pairs the ``query`` asks for."""
    return comparison_flips_context(
        report.stats,
        baseline_run_id=report.baseline_run_id,
        candidate_run_id=report.candidate_run_id,
        labels=(_version_label(report.baseline_version), _version_label(report.candidate_version)),
        query=query,
    )


def _version_label(version: Any) -> str:
    return f"v{version.number}" if version is not None else DASH


def comparison_flips_context(
    stats: dict[str, Any],
    *,
    baseline_run_id: int | None,
    candidate_run_id: int | None,
    labels: tuple[str, str],
    query: QueryDict,
) -> dict[str, Any]:
    """The filter bar and the page of flipped pairs of one comparison of two runs (the
    statistics ``runs_compare`` stored: a drift report's, or one comparison of a judge drift
    report) that the ``query`` asks for; ``labels`` name the baseline and the candidate."""
    flipped = stats.get("flipped") or []
    form = FlipFilterForm(query or None, domains=sorted(stats.get("by_domain") or {}))
    flips = selectors.filter_flips(
        flipped,
        domain=form.value("domain"),
        direction=form.value("direction"),
        moves=form.value("moves"),
    )
    page = Paginator(flips, FLIPS_PER_PAGE).get_page(query.get("page"))
    return {
        "flip_filter": form,
        "flips": selectors.flip_details(
            list(page.object_list),
            baseline_run_id=baseline_run_id,
            candidate_run_id=candidate_run_id,
        ),
        "flips_page": page,
        "flips_total": len(flipped),
        "flips_filtered": any(form.value(name) for name in form.fields),
        "flips_runs": (baseline_run_id, candidate_run_id),
        "flips_labels": labels,
    }


def statistics_rows(
    report: DriftReport, min_effect: float, flagged: set[str]
) -> list[dict[str, Any]]:
    """The statistics table: all pairs first, then each domain in name order."""
    counts = selectors.flip_counts(report)
    rows = []
    if report.overall:
        rows.append(
            scope_row("all pairs", report.overall, min_effect, flagged, flip_counts=counts[""])
        )
    rows.extend(
        scope_row(
            name,
            report.by_domain[name],
            min_effect,
            flagged,
            domain=name,
            flip_counts=counts.get(name),
        )
        for name in sorted(report.by_domain)
    )
    return rows


def report_context(
    report: DriftReport,
    *,
    query: QueryDict,
    partial: bool,
    capabilities: set[str],
    form: ResolveForm | None,
) -> dict[str, Any]:
    """Everything the report page shows: charts, table, flags, notes, diff, flips, decision.

    ``query`` is the page's query string (flip filters and page number); a ``partial`` render
    (the flip list alone) skips the rubric diff.
    """
    alert = selectors.report_alert(report)
    status = selectors.report_drift_status(report)
    flags = list(report.flags or [])
    overall = report.overall
    by_domain = report.by_domain
    thresholds = report.thresholds or {}
    min_effect = float(thresholds.get("min_effect", 0.02))
    flagged = {
        str(flag.get("domain"))
        for flag in flags
        if flag.get("kind") in ("domain_drift", "masked_drift") and flag.get("domain")
    }
    rows = statistics_rows(report, min_effect, flagged)
    return {
        "report": report,
        "alert": alert,
        "lineage": selectors.blocked_ancestry(report.candidate_version),
        "status": status,
        "waiting_runs": selectors.report_waiting_runs(report),
        "status_badge": selectors.STATUS_BADGES.get(status, ""),
        "diff_old_label": f"v{report.baseline_version.number}",
        "diff_new_label": f"v{report.candidate_version.number}",
        "chart": accuracy_chart(by_domain, overall, flagged=flagged) if overall else None,
        "forest": (
            forest_chart(by_domain, overall, flagged=flagged, min_effect=min_effect)
            if overall
            else None
        ),
        "rows": rows,
        "flags": [
            (
                flag,
                explain.FLAG_TITLES.get(str(flag.get("kind")), str(flag.get("kind"))),
                explain.explain_flag(flag, overall),
            )
            for flag in flags
        ],
        "power_notes": [row for row in rows if row["power_note"]],
        **family_context(report),
        "overall_directions": rows[0]["directions"] if rows else [],
        # A partial (the flip list) never shows the diff: skip computing it.
        "diff": None if partial else rubric_diff(report),
        "diff_template": diff_template(),
        **flips_context(report, query),
        "deliveries": list(alert.deliveries.all()[:20]) if alert is not None else [],
        "can_resolve": Capability.ALERT_RESOLVE.value in capabilities,
        "form": form or ResolveForm(),
        "pairs_compared": report.stats.get("pairs_compared"),
        # Rubric or judge? (a partial, the flip list, does not show it)
        "judge_question": None if partial else selectors.report_judge_question(report),
        "thresholds_points": {
            "min_effect": min_effect * 100,
            "tolerance": float(thresholds.get("tolerance", 0.01)) * 100,
            "alpha": thresholds.get("alpha"),
        },
    }
