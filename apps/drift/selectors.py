"""Reads of the drift app: which report guards a version, its drift status, the alert inbox,
the flip list of a report and a rubric's drift history.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When

from apps.accounts.models import Project
from apps.datasets.models import GoldLabel, Pair, ReferenceItem
from apps.drift import power
from apps.drift.flags import DriftThresholds
from apps.drift.models import (
    AlertStatus,
    DriftAlert,
    DriftGuard,
    DriftReport,
    ReportStatus,
    Severity,
)
from apps.judging.models import JudgeConfig, JudgingRun, Judgment, JudgmentStatus, RunStatus
from apps.judging.selectors import run_pair_outcomes, run_waiting
from apps.rubrics.models import Rubric, RubricLabel, RubricVersion, VersionStatus

# The words of ``version_drift_status``: the rubric list, the history page and the API show them.
NOT_GUARDED = "not guarded"
RUNNING = "drift check running"
PASSED = "passed"
ALERT_OPEN = "alert open"
APPROVED = "approved"
BLOCKED = "blocked"
ACKNOWLEDGED = "acknowledged"
FAILED = "failed"
# Two more states the gate has to tell apart: a guarded version with nothing to compare against
# (the first published version), and one that was published before the guard was switched on.
NO_BASELINE = "no baseline"
NOT_CHECKED = "not checked"

DRIFT_STATUSES = (
    NOT_GUARDED,
    RUNNING,
    PASSED,
    ALERT_OPEN,
    APPROVED,
    BLOCKED,
    ACKNOWLEDGED,
    FAILED,
    NO_BASELINE,
    NOT_CHECKED,
)
# The CSS badge class of each status (studio.css colours open/blocked/failed red, and so on).
STATUS_BADGES = {
    NOT_GUARDED: "",
    RUNNING: "running",
    PASSED: "passed",
    ALERT_OPEN: "open",
    APPROVED: "approved",
    BLOCKED: "blocked",
    ACKNOWLEDGED: "acknowledged",
    FAILED: "failed",
    NO_BASELINE: "",
    NOT_CHECKED: "medium",
}

_ALERT_WORDS = {
    AlertStatus.OPEN: ALERT_OPEN,
    AlertStatus.APPROVED: APPROVED,
    AlertStatus.BLOCKED: BLOCKED,
    AlertStatus.ACKNOWLEDGED: ACKNOWLEDGED,
}


# --- the guard ----------------------------------------------------------------------------------

# The roles a baseline plays for a candidate. Production and the anchor gate the promotion; the
# parent is shown to the author and gates nothing by itself (its alerts still need a decision).
PRODUCTION = "production"
ANCHOR = "anchor"
PARENT = "parent"
PREDECESSOR = "predecessor"
GATING_ROLES = frozenset({PRODUCTION, ANCHOR})


def guard_for(rubric: Rubric) -> DriftGuard:
    """The rubric's drift guard; an unsaved, switched-off one when it never had a guard."""
    guard = (
        DriftGuard.objects.select_related("judge", "reference_set", "anchor")
        .filter(rubric_id=rubric.pk)
        .first()
    )
    return guard if guard is not None else DriftGuard(rubric=rubric)


def guard_reference_set_id(rubric: Rubric) -> int | None:
    """The reference set of the rubric's guard, on or off (the preview samples a pair from it)."""
    found: int | None = (
        DriftGuard.objects.filter(rubric_id=rubric.pk)
        .values_list("reference_set", flat=True)
        .first()
    )
    return found


def guard_is_complete(rubric: Rubric) -> bool:
    """Whether the rubric's drift guard is on and names both a judge and a reference set."""
    return guard_for(rubric).is_complete


def guard_thresholds(rubric: Rubric) -> DriftThresholds:
    """The flag thresholds of the rubric's drift guard."""
    guard = guard_for(rubric)
    return DriftThresholds(
        min_effect=guard.min_effect, tolerance=guard.tolerance, alpha=guard.alpha
    )


def production_version(rubric: Rubric) -> RubricVersion | None:
    """The version the rubric's ``production`` label points at now."""
    label = (
        RubricLabel.objects.filter(rubric_id=rubric.pk, name=PRODUCTION)
        .select_related("version")
        .first()
    )
    return label.version if label is not None else None


def drift_predecessor(version: RubricVersion) -> RubricVersion | None:
    """The version a published ``version`` is compared with: its parent if that is published,
    else the version published most recently before it (None for the first one)."""
    parent = version.parent
    if parent is not None and parent.is_published and parent.rubric_id == version.rubric_id:
        return parent
    earlier = RubricVersion.objects.filter(
        rubric_id=version.rubric_id, status=VersionStatus.PUBLISHED
    ).exclude(pk=version.pk)
    if version.published_at is not None:
        earlier = earlier.filter(published_at__lt=version.published_at)
    else:
        earlier = earlier.filter(number__lt=version.number)
    return earlier.order_by("-published_at", "-number").first()


@dataclass(frozen=True)
class Baseline:
    """A version a candidate is compared with, and the roles it plays (production, anchor...)."""

    version: RubricVersion
    roles: tuple[str, ...]

    @property
    def gates(self) -> bool:
        return bool(GATING_ROLES.intersection(self.roles))

    @property
    def words(self) -> str:
        """``production v1``, ``the anchor v1``, ``production and the anchor v1``..."""
        names = {PRODUCTION: "production", ANCHOR: "the anchor", PARENT: "its parent"}
        named = [names[role] for role in self.roles if role in names] or ["its predecessor"]
        return f"{' and '.join(named)} v{self.version.number}"


def guard_baselines(
    version: RubricVersion,
    *,
    guard: DriftGuard,
    production: RubricVersion | None,
    gating_only: bool = False,
) -> list[Baseline]:
    """What ``version`` is compared with under its guard: the production version, the anchor,
    and (unless ``gating_only``) its parent, each once, never itself.

    A rubric with neither production nor an anchor yet compares the version with its
    predecessor, so early versions are still checked.
    """
    roles: dict[int, list[str]] = {}
    versions: dict[int, RubricVersion] = {}

    def add(candidate: RubricVersion | None, role: str) -> None:
        if candidate is None or candidate.pk == version.pk or not candidate.is_published:
            return
        if candidate.rubric_id != version.rubric_id:
            return
        versions[candidate.pk] = candidate
        roles.setdefault(candidate.pk, []).append(role)

    add(production, PRODUCTION)
    add(guard.anchor, ANCHOR)
    if not gating_only:
        parent = version.parent
        add(parent, PARENT)
        if not roles:
            add(drift_predecessor(version), PREDECESSOR)
    return [Baseline(version=versions[pk], roles=tuple(found)) for pk, found in roles.items()]


def comparison_report(
    *, candidate: RubricVersion, baseline: RubricVersion, judge: JudgeConfig, reference_set_id: int
) -> DriftReport | None:
    """The stored decision of one comparison: (candidate, baseline, judge config, snapshot).

    A comparison has one report, and so one decision: running it again returns this one. A judge
    config edited after the report was made is a different judge, so a new comparison; a failed
    report decides nothing and is returned only when there is no other.
    """
    reports = DriftReport.objects.filter(
        candidate_version=candidate,
        baseline_version=baseline,
        judge_id=judge.pk,
        reference_set_id=reference_set_id,
    ).select_related("alert")
    if judge.updated_at is not None:
        reports = reports.filter(created_at__gte=judge.updated_at)
    decided = reports.exclude(status=ReportStatus.FAILED).order_by("-created_at", "-id").first()
    return decided or reports.order_by("-created_at", "-id").first()


def gate_report(version: RubricVersion, rubric: Rubric | None = None) -> DriftReport | None:
    """The report that stands for ``version`` on its guard's judge and snapshot: its comparison
    against production (else the anchor, else its predecessor) when the version is not itself
    production. None without a complete guard or a comparison."""
    rubric = rubric or version.rubric
    guard = guard_for(rubric)
    if not guard.is_complete or guard.judge is None or guard.reference_set_id is None:
        return None
    production = production_version(rubric)
    for baseline in guard_baselines(version, guard=guard, production=production):
        report = comparison_report(
            candidate=version,
            baseline=baseline.version,
            judge=guard.judge,
            reference_set_id=guard.reference_set_id,
        )
        if report is not None:
            return report
    return None


def refusing_alerts(version: RubricVersion) -> QuerySet[DriftAlert]:
    """The version's open or blocked alerts, oldest first: each refuses its promotion, guard or
    not, until an admin decides it (approve, or acknowledge an open one)."""
    return (
        DriftAlert.objects.filter(
            version=version, status__in=(AlertStatus.OPEN, AlertStatus.BLOCKED)
        )
        .select_related("report__baseline_version")
        .order_by("created_at", "id")
    )


# Imported lineages can be long; walking further up gains nothing a reader would follow.
MAX_ANCESTRY = 200


def blocked_ancestry(version: RubricVersion) -> str:
    """ "forked from v2, blocked by alert 1: <reason>" when an ancestor of ``version`` has a
    blocked alert (the nearest such ancestor), else an empty string."""
    seen: set[int] = set()
    ancestor = version.parent
    while ancestor is not None and ancestor.pk not in seen and len(seen) < MAX_ANCESTRY:
        seen.add(ancestor.pk)
        alert = (
            DriftAlert.objects.filter(version=ancestor, status=AlertStatus.BLOCKED)
            .order_by("-resolved_at", "-id")
            .first()
        )
        if alert is not None:
            why = alert.reason or alert.headline
            return f"forked from v{ancestor.number}, blocked by alert {alert.pk}: {why}"
        ancestor = ancestor.parent
    return ""


def latest_report(version: RubricVersion) -> DriftReport | None:
    """The newest report whose candidate is ``version``, whatever its baseline or judge."""
    return (
        DriftReport.objects.filter(candidate_version=version)
        .select_related("alert")
        .order_by("-created_at", "-id")
        .first()
    )


def report_alert(report: DriftReport) -> DriftAlert | None:
    """The report's alert, or None when it raised none."""
    try:
        return report.alert
    except DriftAlert.DoesNotExist:
        return None


def report_drift_status(report: DriftReport) -> str:
    """The status word of one report (see ``version_drift_status``)."""
    if report.status == ReportStatus.PENDING:
        return RUNNING
    if report.status == ReportStatus.FAILED:
        return FAILED
    alert = report_alert(report)
    if alert is None:
        return PASSED
    return _ALERT_WORDS.get(AlertStatus(alert.status), ALERT_OPEN)


# The worst status of a version's gating comparisons is its status.
_WORST_FIRST = (BLOCKED, ALERT_OPEN, FAILED, ACKNOWLEDGED, NOT_CHECKED, RUNNING, APPROVED, PASSED)


def version_drift_status(version: RubricVersion) -> str:
    """Where a version stands with the drift gate, in the words the pages show.

    One of "not guarded", "drift check running", "passed", "alert open", "approved", "blocked",
    "acknowledged", "failed", and for a guarded rubric also "no baseline" (nothing to compare
    with) or "not checked" (a gating comparison was never made; promoting starts it). An open
    or blocked alert on the version wins, guard or not. Under a guard, the worst state of its
    comparisons against production and the anchor is the version's state.
    """
    guard = guard_for(version.rubric)
    if not version.is_published:
        return NOT_CHECKED if guard.is_complete else NOT_GUARDED
    refusing = list(refusing_alerts(version))
    if refusing:
        return BLOCKED if any(a.status == AlertStatus.BLOCKED for a in refusing) else ALERT_OPEN
    if guard.is_complete and guard.judge is not None and guard.reference_set_id is not None:
        production = production_version(version.rubric)
        baselines = guard_baselines(version, guard=guard, production=production, gating_only=True)
        if not baselines:
            # Production or the anchor itself, or nothing to gate against yet: its comparison
            # with its parent (or predecessor) stands for it.
            if not guard_baselines(version, guard=guard, production=production):
                return NO_BASELINE
            report = gate_report(version)
            return NOT_CHECKED if report is None else report_drift_status(report)
        statuses = []
        for baseline in baselines:
            report = comparison_report(
                candidate=version,
                baseline=baseline.version,
                judge=guard.judge,
                reference_set_id=guard.reference_set_id,
            )
            statuses.append(NOT_CHECKED if report is None else report_drift_status(report))
        return min(statuses, key=_WORST_FIRST.index)
    report = latest_report(version)
    return NOT_GUARDED if report is None else report_drift_status(report)


# --- lists --------------------------------------------------------------------------------------


def alerts_for_project(*, project: Project) -> QuerySet[DriftAlert]:
    """The project's alerts for the inbox: open first, then high severity, then newest."""
    return order_inbox(DriftAlert.objects.filter(project=project))


def order_inbox(alerts: QuerySet[DriftAlert]) -> QuerySet[DriftAlert]:
    """Open alerts first (then blocked, acknowledged, approved), high severity first, newest."""
    status_rank = Case(
        When(status=AlertStatus.OPEN, then=Value(0)),
        When(status=AlertStatus.BLOCKED, then=Value(1)),
        When(status=AlertStatus.ACKNOWLEDGED, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    severity_rank = Case(
        When(severity=Severity.HIGH, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        alerts.select_related("rubric", "version", "report", "resolved_by")
        .annotate(status_rank=status_rank, severity_rank=severity_rank)
        .order_by("status_rank", "severity_rank", "-created_at", "-id")
    )


def open_alerts(*, project: Project) -> QuerySet[DriftAlert]:
    """Alerts nobody has resolved yet."""
    return DriftAlert.objects.filter(project=project, status=AlertStatus.OPEN)


def reports_for_project(*, project: Project) -> QuerySet[DriftReport]:
    """The project's drift reports, newest first."""
    return DriftReport.objects.filter(project=project).select_related(
        "rubric", "baseline_version", "candidate_version", "judge", "reference_set", "alert"
    )


# --- a rubric's history -----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """One published version on the drift history page."""

    version: RubricVersion
    predecessor: RubricVersion | None
    status: str
    report: DriftReport | None
    alert: DriftAlert | None
    deltas: dict[str, float | None]
    # Against the guard's anchor: the comparison, and per domain the candidate's accuracy and
    # its change (the anchor itself: its own accuracy and zero).
    anchor_report: DriftReport | None = None
    anchor_accuracy: dict[str, float | None] = field(default_factory=dict)
    anchor_deltas: dict[str, float | None] = field(default_factory=dict)
    is_anchor: bool = False
    lineage: str = ""


def _anchor_figures(
    report: DriftReport, *, side: str
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    accuracy: dict[str, float | None] = {"overall": report.overall.get(f"{side}_accuracy")}
    deltas: dict[str, float | None] = {
        "overall": report.overall.get("delta") if side == "candidate" else 0.0
    }
    for name, scope in report.by_domain.items():
        accuracy[name] = scope.get(f"{side}_accuracy")
        deltas[name] = scope.get("delta") if side == "candidate" else 0.0
    return accuracy, deltas


def rubric_drift_history(*, rubric: Rubric) -> tuple[list[HistoryRow], list[str]]:
    """Every published version, newest first, with its gate state, the deltas of its gate report
    and its per-domain accuracy against the guard's anchor.

    Returns the rows and the domains seen in any report, so the page can lay the figures out as
    columns and chart how far each version has moved from the anchor.
    """
    versions = list(
        RubricVersion.objects.filter(rubric=rubric, status=VersionStatus.PUBLISHED)
        .select_related("rubric", "parent", "author")
        .order_by("-published_at", "-number")
    )
    guard = guard_for(rubric)
    anchor = guard.anchor
    rows: list[HistoryRow] = []
    domains: set[str] = set()
    anchor_baseline: DriftReport | None = None
    for version in versions:
        report = gate_report(version) if guard.is_complete else latest_report(version)
        deltas: dict[str, float | None] = {}
        if report is not None and report.status == ReportStatus.READY:
            deltas = {name: scope.get("delta") for name, scope in report.by_domain.items()}
            deltas["overall"] = report.overall.get("delta")
            domains.update(name for name in deltas if name != "overall")
        anchor_report = None
        accuracy: dict[str, float | None] = {}
        anchor_deltas: dict[str, float | None] = {}
        if (
            anchor is not None
            and guard.judge is not None
            and guard.reference_set_id is not None
            and version.pk != anchor.pk
        ):
            anchor_report = comparison_report(
                candidate=version,
                baseline=anchor,
                judge=guard.judge,
                reference_set_id=guard.reference_set_id,
            )
            if anchor_report is not None and anchor_report.status == ReportStatus.READY:
                accuracy, anchor_deltas = _anchor_figures(anchor_report, side="candidate")
                domains.update(name for name in accuracy if name != "overall")
                anchor_baseline = anchor_baseline or anchor_report
        rows.append(
            HistoryRow(
                version=version,
                predecessor=drift_predecessor(version),
                status=version_drift_status(version),
                report=report,
                alert=report_alert(report) if report is not None else None,
                deltas=deltas,
                anchor_report=anchor_report,
                anchor_accuracy=accuracy,
                anchor_deltas=anchor_deltas,
                is_anchor=anchor is not None and version.pk == anchor.pk,
                lineage=blocked_ancestry(version),
            )
        )
    if anchor_baseline is not None:
        # The anchor's own accuracy, read from the baseline side of a comparison against it.
        accuracy, anchor_deltas = _anchor_figures(anchor_baseline, side="baseline")
        rows = [
            replace(row, anchor_accuracy=accuracy, anchor_deltas=anchor_deltas)
            if row.is_anchor
            else row
            for row in rows
        ]
    return rows, sorted(domains)


# --- the flip list ------------------------------------------------------------------------------

DIRECTION_FILTERS: dict[str, tuple[str, int, str]] = {
    "longer": ("toward_longer", 1, "toward the longer response"),
    "shorter": ("toward_longer", -1, "toward the shorter response"),
    "refusal": ("toward_refusal", 1, "toward the refusing response"),
    "compliance": ("toward_refusal", -1, "away from the refusing response"),
    "position_a": ("toward_position_a", 1, "toward A"),
    "position_b": ("toward_position_a", -1, "toward B"),
}


def filter_flips(
    flipped: Iterable[dict[str, Any]], *, domain: str = "", direction: str = ""
) -> list[dict[str, Any]]:
    """The report's flips in one domain and/or one direction (keys of ``DIRECTION_FILTERS``)."""
    rows = [f for f in flipped if not domain or f.get("domain") == domain]
    if direction in DIRECTION_FILTERS:
        key, sign, _ = DIRECTION_FILTERS[direction]
        rows = [f for f in rows if (f.get("moves") or {}).get(key) == sign]
    return rows


def flip_details(report: DriftReport, flips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flips with their pair's texts and both runs' rationales (a fixed number of queries)."""
    pair_ids = [f["pair_id"] for f in flips if f.get("pair_id") is not None]
    pairs = {
        row["pk"]: row
        for row in Pair.objects.filter(pk__in=pair_ids).values(
            "pk", "external_id", "prompt", "response_a", "response_b"
        )
    }
    rationales: dict[tuple[Any, Any, str], str] = {}
    run_ids = [r for r in (report.baseline_run_id, report.candidate_run_id) if r is not None]
    for run_id, judged_pair, order, rationale in (
        Judgment.objects.filter(run_id__in=run_ids, pair_id__in=pair_ids)
        .exclude(status=JudgmentStatus.PENDING)
        .values_list("run_id", "pair_id", "order", "rationale")
    ):
        rationales[(run_id, judged_pair, order)] = rationale
    details = []
    for flip in flips:
        pair_id: Any = flip.get("pair_id")
        detail = dict(flip)
        detail["pair"] = pairs.get(pair_id)
        detail["rationales"] = {
            "baseline": [
                rationales.get((report.baseline_run_id, pair_id, order), "")
                for order in ("AB", "BA")
            ],
            "candidate": [
                rationales.get((report.candidate_run_id, pair_id, order), "")
                for order in ("AB", "BA")
            ],
        }
        details.append(detail)
    return details


# --- inputs of a report -------------------------------------------------------------------------


def repeat_run_for(report: DriftReport) -> JudgingRun | None:
    """A second finished run of the baseline rubric version on the same judge and snapshot that
    asked the judge again (``use_cache=False``): its flips against the baseline are the judge's
    own noise. None when nobody ran one."""
    if report.baseline_run_id is None:
        return None
    return (
        JudgingRun.objects.filter(
            rubric_version_id=report.baseline_version_id,
            judge_id=report.judge_id,
            reference_set_id=report.reference_set_id,
            use_cache=False,
            status__in=(RunStatus.SUCCEEDED, RunStatus.PARTIAL),
        )
        .exclude(pk__in=[report.baseline_run_id, report.candidate_run_id])
        .order_by("-finished_at", "-pk")
        .first()
    )


def paired_records(
    *, baseline_run: JudgingRun, candidate_run: JudgingRun, repeat_run: JudgingRun | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One record per pair judged by both runs (``PairedOutcomes.from_records`` keys), ordered by
    pair id, and the number of pairs of the snapshot that only one run judged.

    Lengths (characters), refusal markers and the prompt hash (the bootstrap's cluster) come
    from the judging app's per-pair outcomes; verdicts aggregate both orders.
    """
    baseline = {row["pair_id"]: row for row in run_pair_outcomes(baseline_run, rationales=False)}
    candidate = {
        row["pair_id"]: row
        for row in run_pair_outcomes(candidate_run, texts=False, rationales=False)
    }
    repeat: dict[int, str] = {}
    if repeat_run is not None:
        repeat = {
            row["pair_id"]: row["verdict"]
            for row in run_pair_outcomes(repeat_run, texts=False, rationales=False)
        }
    shared = sorted(baseline.keys() & candidate.keys())
    records = []
    for pair_id in shared:
        base, cand = baseline[pair_id], candidate[pair_id]
        records.append(
            {
                "pair_id": pair_id,
                "domain": base["domain"],
                "gold": base["gold"],
                "baseline": base["verdict"],
                "candidate": cand["verdict"],
                "length_a": base["len_a"],
                "length_b": base["len_b"],
                "refuses_a": base["refuses_a"],
                "refuses_b": base["refuses_b"],
                "cluster": base["prompt_hash"],
                "baseline_consistent": base["consistent"],
                "candidate_consistent": cand["consistent"],
                "repeat_baseline": repeat.get(pair_id) if repeat_run is not None else None,
            }
        )
    unmatched = len(baseline.keys() ^ candidate.keys())
    return records, unmatched


def report_waiting_runs(report: DriftReport) -> list[tuple[int, str]]:
    """(run id, why it waits) for each run a pending report waits on that is not moving."""
    if report.status != ReportStatus.PENDING:
        return []
    waiting = []
    for run in (report.baseline_run, report.candidate_run, report.repeat_run):
        if run is None:
            continue
        reason = run_waiting(run)
        if reason:
            waiting.append((run.pk, reason))
    return waiting


# --- what the guard can catch -------------------------------------------------------------------

# How many of the rubric's latest reports on the guard's judge and snapshot measure the noise.
POWER_NOISE_REPORTS = 5


@dataclass(frozen=True)
class GuardPowerLine:
    """What the guard's reference set can catch in one domain, at the judge's measured noise.

    ``pairs``: the domain's scored pairs (gold A or B); ``noise``: the median discordance rate of
    the domain over ``reports`` recent reports (None before any); ``smallest_drop``: the smallest
    accuracy drop (proportion) flagged with ``power`` (None when not measured or not reachable).
    """

    domain: str
    pairs: int
    noise: float | None
    reports: int
    smallest_drop: float | None
    power: float

    @property
    def noise_text(self) -> str:
        """The measured noise as a percentage (``3.2%``), empty before any report."""
        return "" if self.noise is None else f"{self.noise * 100:.1f}%"

    @property
    def sentence(self) -> str:
        """``harmlessness: 412 pairs; drops of 6 pts or more are caught 80% of the time ...``."""
        head = f"{self.domain}: {self.pairs} pairs; "
        if self.noise is None:
            return head + "the judge's noise is not measured yet (no drift report on this set)"
        if self.smallest_drop is None:
            return head + f"no drop is caught {self.power * 100:.0f}% of the time at this noise"
        # Rounded up: a promise of "6 pts" must hold for a 6-point drop.
        points = max(1, math.ceil(self.smallest_drop * 100 - 1e-9))
        return (
            head + f"drops of {points} pts or more are caught {self.power * 100:.0f}% of the "
            "time at this judge's measured noise"
        )


def guard_power_summary(rubric: Rubric) -> list[GuardPowerLine]:
    """One line per domain of the guard's reference set: what a drift check can catch there.

    Pairs per domain come from the snapshot (gold A or B only: gold ties carry no accuracy).
    The judge's noise is the domain's discordance rate (pairs right in one run only) in the
    rubric's latest ready reports on the guard's judge and snapshot, the median of up to
    ``POWER_NOISE_REPORTS`` of them: a report with real drift in the domain raises its rate, so
    the median keeps one drifting edit from making the promise look worse than it is, and any
    drift left in it only makes the promise more cautious. The smallest drop is
    ``power.smallest_drop_caught`` at the guard's alpha, shared among the snapshot's domains as
    the alert family shares it, and the guard's flag threshold. Empty when the guard is not
    complete.
    """
    if not guard_is_complete(rubric):
        return []
    guard = guard_for(rubric)
    judge_id, reference_set_id = guard.judge_id, guard.reference_set_id
    thresholds = guard_thresholds(rubric)
    counts = dict(
        ReferenceItem.objects.filter(
            reference_set_id=reference_set_id, gold_label__in=(GoldLabel.A, GoldLabel.B)
        )
        .values_list("pair__domain")
        .annotate(n=Count("id"))
        .order_by("pair__domain")
    )
    recent = (
        DriftReport.objects.filter(
            rubric=rubric,
            judge_id=judge_id,
            reference_set_id=reference_set_id,
            status=ReportStatus.READY,
        )
        .order_by("-finished_at", "-pk")
        .values_list("stats", flat=True)[:POWER_NOISE_REPORTS]
    )
    measured: dict[str, list[float]] = {}
    for stats in recent:
        for domain, scope in ((stats or {}).get("by_domain") or {}).items():
            rate = (scope or {}).get("discordance_rate")
            if rate is not None:
                measured.setdefault(domain, []).append(float(rate))
    lines = []
    for domain, pairs in counts.items():
        rates = measured.get(domain) or []
        noise = statistics.median(rates) if rates else None
        smallest = (
            None
            if noise is None
            else power.smallest_drop_caught(
                pairs,
                noise,
                alpha=thresholds.alpha,
                domains=len(counts),
                min_effect=thresholds.min_effect,
            )
        )
        lines.append(
            GuardPowerLine(
                domain=domain,
                pairs=pairs,
                noise=noise,
                reports=len(rates),
                smallest_drop=smallest,
                power=power.DEFAULT_POWER,
            )
        )
    return lines
