"""Reads of drift forensics: what the report page shows beside a drift report.

* the report's latest attribution, and the hunks of its edit (listed even before an attribution
  has run, so a reviewer sees what can be attributed);
* criterion-level drift: where the judge gave one verdict per criterion, which criteria's
  verdicts moved between the two runs, per domain;
* the judge against humans: per domain, the judge's accuracy, its agreement with each annotator
  and the annotators' agreement with each other (the ceiling), from ``apps.annotations.agreement``;
* judge drift reports of the same versions;
* whether a guard's new judge is cleared (``guard_judge_clearance``, asked by the drift app), and
  whether a judge drift report decides the guard's pending judge (``report_decides_guard_judge``);
* the split of a drift report whose judge moved (``drift_report_split``, asked by the drift app).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse

from apps.accounts.models import Project
from apps.annotations.agreement import Rating, agreement_report
from apps.annotations.models import Annotation
from apps.datasets.models import ReferenceItem
from apps.drift.hooks import JudgeClearance, JudgeSplit, judge_identity
from apps.drift.models import DriftGuard, DriftReport
from apps.forensics.hunks import Hunk, split_hunks
from apps.forensics.models import Attribution, JobStatus, JudgeDriftKind, JudgeDriftReport
from apps.judging.models import JudgingRun, Judgment, JudgmentStatus, RunStatus
from apps.judging.protocol import aggregate_pair
from apps.judging.selectors import run_pair_outcomes
from apps.rubrics.models import RubricVersion, VersionStatus
from apps.rubrics.selectors import label_version, latest_published

# The judge's name among the annotators; a colon cannot occur in a username.
JUDGE_RATER = "judge:"
_PAIR_VERDICTS = ("A", "B", "tie")


def latest_attribution(report: DriftReport) -> Attribution | None:
    """The newest attribution of the report (any status)."""
    return Attribution.objects.filter(report=report).order_by("-created_at", "-pk").first()


def attributions_for_project(*, project: Project) -> QuerySet[Attribution]:
    """The project's attributions, newest first."""
    return Attribution.objects.filter(project=project).select_related("report")


def judge_drift_reports_for_project(*, project: Project) -> QuerySet[JudgeDriftReport]:
    """The project's judge drift reports, newest first, with what their pages name."""
    return JudgeDriftReport.objects.filter(project=project).select_related(
        "rubric", "old_version", "new_version", "old_judge", "new_judge", "reference_set"
    )


def guard_version(rubric: Any) -> RubricVersion | None:
    """The version a guard's judge check judges: production if labelled, else the newest
    published one."""
    return label_version(rubric=rubric, label="production") or latest_published(rubric=rubric)


def guard_version_before_edit(rubric: Any, judge: Any, reference_set: Any) -> RubricVersion | None:
    """The version a guard's check of ``judge`` edited in place judges: the guard's version
    when ``judge`` judged it on the snapshot before its last edit, else the newest published
    version it did (only such a run says what the config answered before the edit)."""
    before_edit = JudgingRun.objects.filter(
        judge=judge,
        reference_set=reference_set,
        status=RunStatus.SUCCEEDED,
        created_at__lt=judge.updated_at,
        rubric_version__rubric=rubric,
    )
    version = guard_version(rubric)
    if version is None or before_edit.filter(rubric_version=version).exists():
        return version
    run = (
        before_edit.filter(rubric_version__status=VersionStatus.PUBLISHED)
        .select_related("rubric_version")
        .order_by("-rubric_version__number")
        .first()
    )
    return run.rubric_version if run is not None else version


def _matching_guard_report(
    *, rubric_id: int, old_judge: Any, new_judge: Any
) -> JudgeDriftReport | None:
    """The newest judge drift report of the rubric's version under ``old_judge`` against
    ``new_judge`` *as it is now* (a report of an earlier state of an edited config does not
    count), rubric held fixed."""
    identity = judge_identity(new_judge)
    reports = JudgeDriftReport.objects.filter(
        rubric_id=rubric_id,
        old_judge=old_judge,
        new_judge=new_judge,
        kind=JudgeDriftKind.JUDGE,
    ).order_by("-created_at", "-pk")
    for report in reports[:20]:
        if {k: report.new_judge_state.get(k) for k in identity} == identity:
            return report
    return None


def _report_clearance(report: JudgeDriftReport, link: str) -> JudgeClearance:
    """What a judge drift report says of its new judge (see ``guard_judge_clearance``)."""

    def answer(cleared: bool, reason: str) -> JudgeClearance:
        return JudgeClearance(
            cleared=cleared,
            reason=reason,
            report_id=report.pk,
            flagged=bool(report.flags),
            link=link,
        )

    if report.is_accepted:
        by = report.accepted_by or "an admin"
        return answer(True, f"Accepted by {by}: {report.acceptance_reason}")
    if report.status == JobStatus.PENDING:
        return answer(False, f"Judge drift report {report.pk} is running.")
    if report.status == JobStatus.FAILED:
        return answer(
            False,
            f"Judge drift report {report.pk} failed ({report.error}); an admin may accept the "
            "new judge with a reason.",
        )
    if not report.flags:
        return answer(True, f"No drift flagged: {report.headline}")
    return answer(
        False,
        f"{report.headline} {len(report.flags)} flag(s); an admin must accept the new judge "
        "with a reason.",
    )


def guard_judge_clearance(guard: Any, new_judge: Any) -> JudgeClearance:
    """Whether ``guard`` may judge with ``new_judge`` (the drift app's registry asks; see
    ``apps.drift.hooks``). Cleared by the newest report comparing the guard's judge with the new
    one as it is now when it raised no flag, or when an admin accepted it; not cleared while
    it runs, after it failed, or with flags. With no report, cleared only when the rubric has
    no published version (nothing was judged that the new judge could disagree with)."""
    report = _matching_guard_report(
        rubric_id=guard.rubric_id, old_judge=guard.judge, new_judge=new_judge
    )
    if report is None:
        if guard_version(guard.rubric) is None:
            return JudgeClearance(
                cleared=True, reason="The rubric has no published version to compare on."
            )
        return JudgeClearance(
            cleared=False,
            reason=f"No judge drift report compares {guard.judge} with {new_judge} as it is "
            "now; it starts when the guard's judge changes or its config is edited.",
        )
    link = reverse(
        "forensics:judge_drift", kwargs={"project": guard.rubric.project.slug, "pk": report.pk}
    )
    return _report_clearance(report, link)


def guard_judge_cleared(*, rubric: Any, old_judge: Any, new_judge: Any) -> bool:
    """Whether a guard holding ``old_judge`` may judge with ``new_judge``: the same judge, or
    the newest report comparing them cleared it (no flag, or an admin accepted it)."""
    if old_judge is None or new_judge is None or old_judge.pk == new_judge.pk:
        return True
    report = _matching_guard_report(rubric_id=rubric.pk, old_judge=old_judge, new_judge=new_judge)
    return report is not None and _report_clearance(report, "").cleared


def report_decides_guard_judge(report: JudgeDriftReport) -> bool:
    """Whether ``report`` is the comparison that clears (or holds) the new judge of its rubric's
    guard: the judge alone (rubric fixed), from the guard's judge in use to the judge it
    requested, or to its own judge edited in place, *as that judge is now*; and the newest such
    report (the one ``guard_judge_clearance`` reads). Whatever started it: the guard, a person
    or a drift report."""
    if report.kind != JudgeDriftKind.JUDGE:
        return False
    guard = (
        DriftGuard.objects.select_related("judge", "requested_judge")
        .filter(rubric_id=report.rubric_id)
        .first()
    )
    if guard is None or guard.judge_id is None or report.old_judge_id != guard.judge_id:
        return False
    if guard.requested_judge_id is not None:
        pending = guard.requested_judge
    elif guard.judge_state and guard.judge_state != judge_identity(guard.judge):
        pending = guard.judge
    else:
        return False
    if pending is None or report.new_judge_id != pending.pk:
        return False
    newest = _matching_guard_report(
        rubric_id=report.rubric_id, old_judge=guard.judge, new_judge=pending
    )
    return newest is not None and newest.pk == report.pk


def drift_report_split(report: DriftReport) -> JudgeSplit | None:
    """The report that splits the causes of a drift report whose judge moved (the drift app's
    split registry asks): the one started for it, else the newest 2 x 2 of its two versions
    under its two judges on its snapshot that anyone made. None when there is neither."""
    split = JudgeDriftReport.objects.filter(drift_report=report).order_by("-created_at", "-pk")
    found = split.first()
    if found is None and report.baseline_run is not None and report.candidate_run is not None:
        found = (
            JudgeDriftReport.objects.filter(
                kind=JudgeDriftKind.FACTORIAL,
                reference_set_id=report.reference_set_id,
                old_version_id=report.baseline_version_id,
                new_version_id=report.candidate_version_id,
                old_judge_id=report.baseline_run.judge_id,
                new_judge_id=report.candidate_run.judge_id,
            )
            .exclude(status=JobStatus.FAILED)
            .order_by("-created_at", "-pk")
            .first()
        )
    if found is None:
        return None
    return JudgeSplit(
        report_id=found.pk,
        kind=found.kind,
        status=found.status,
        link=reverse(
            "forensics:judge_drift", kwargs={"project": report.project.slug, "pk": found.pk}
        ),
        blame=found.blame,
        headline=found.headline,
        flags=len(found.flags or []),
        error=found.error,
        rubric=f"v{found.old_version.number}"
        + (f" → v{found.new_version.number}" if found.new_version is not None else ""),
    )


def report_hunks(report: DriftReport) -> list[Hunk]:
    """The hunks of the report's rubric edit."""
    return split_hunks(report.baseline_version.to_spec(), report.candidate_version.to_spec())


def related_judge_drift(report: DriftReport) -> list[JudgeDriftReport]:
    """Judge drift reports that judged either version of the report on its snapshot."""
    versions = [report.baseline_version_id, report.candidate_version_id]
    return list(
        judge_drift_reports_for_project(project=report.project)
        .filter(reference_set_id=report.reference_set_id)
        .filter(Q(old_version_id__in=versions) | Q(new_version_id__in=versions))[:10]
    )


# --- criterion-level drift ----------------------------------------------------------------------


def _criteria_verdicts(run: JudgingRun) -> dict[int, tuple[str, dict[str, str]]]:
    """Per pair: (domain, {criterion key: pair verdict from both orders})."""
    orders: dict[int, dict[str, dict[str, str]]] = defaultdict(dict)
    domains: dict[int, str] = {}
    rows = (
        Judgment.objects.filter(run_id=run.pk, status=JudgmentStatus.DONE)
        .exclude(criteria={})
        .order_by()
        .values_list("pair_id", "order", "criteria", "pair__domain")
    )
    for pair_id, order, criteria, domain in rows:
        orders[pair_id][order] = criteria or {}
        domains[pair_id] = domain
    found: dict[int, tuple[str, dict[str, str]]] = {}
    for pair_id, both in orders.items():
        ab, ba = both.get("AB") or {}, both.get("BA") or {}
        verdicts: dict[str, str] = {
            key: aggregate_pair(ab[key], ba[key]).verdict  # type: ignore[arg-type]
            for key in ab
            if key in ba and ab[key] in _PAIR_VERDICTS and ba[key] in _PAIR_VERDICTS
        }
        if verdicts:
            found[pair_id] = (domains[pair_id], verdicts)
    return found


def criterion_drift(
    baseline_run: JudgingRun | None, candidate_run: JudgingRun | None
) -> list[dict[str, Any]] | None:
    """Which criteria's verdicts moved between two runs, per domain; None when neither run has
    per-criterion verdicts.

    One row per (domain, criterion) with ``n`` (pairs judged on the criterion by both runs),
    ``moved`` (pairs whose criterion verdict differs), ``share`` and, for criteria present in
    one run only, ``only_in`` (``baseline``/``candidate``). Rows with moves come first.
    """
    if baseline_run is None or candidate_run is None:
        return None
    before, after = _criteria_verdicts(baseline_run), _criteria_verdicts(candidate_run)
    if not before and not after:
        return None
    tally: dict[tuple[str, str], dict[str, Any]] = {}

    def row(domain: str, key: str) -> dict[str, Any]:
        return tally.setdefault(
            (domain, key),
            {"domain": domain, "criterion": key, "n": 0, "moved": 0, "seen": set()},
        )

    for pair_id in before.keys() | after.keys():
        domain = (before.get(pair_id) or after.get(pair_id) or ("", {}))[0]
        old = before.get(pair_id, ("", {}))[1]
        new = after.get(pair_id, ("", {}))[1]
        for key in old.keys() | new.keys():
            entry = row(domain, key)
            if key in old and key in new:
                entry["n"] += 1
                entry["moved"] += old[key] != new[key]
                entry["seen"].add("both")
            else:
                entry["seen"].add("baseline" if key in old else "candidate")
    rows = []
    for entry in tally.values():
        seen = entry.pop("seen")
        entry["only_in"] = "" if "both" in seen else next(iter(seen))
        entry["share"] = entry["moved"] / entry["n"] if entry["n"] else None
        rows.append(entry)
    rows.sort(key=lambda r: (-r["moved"], r["domain"], r["criterion"]))
    return rows


# --- the judge against humans -------------------------------------------------------------------


def _human_ratings(pair_ids: Iterable[int]) -> list[Rating]:
    ids = list(pair_ids)
    rows = (
        Annotation.objects.filter(pair_id__in=ids)
        .order_by("pair_id", "annotator__username", "-created_at")
        .values_list("pair_id", "annotator__username", "choice", "pair__domain")
    )
    ratings: dict[tuple[int, str], Rating] = {}
    for pair_id, username, choice, domain in rows:
        # One label per annotator and pair (the newest when queues overlap).
        ratings.setdefault((pair_id, username), Rating(pair_id, username, choice, domain))
    return list(ratings.values())


def _scope_agreement(stats: dict[str, Any], accuracy: Any) -> dict[str, Any]:
    judge_rows, human_rows = [], []
    for entry in stats.get("cohen_kappa") or []:
        first, second = entry["annotators"]
        if JUDGE_RATER in (first, second):
            judge_rows.append(
                {
                    "annotator": second if first == JUDGE_RATER else first,
                    "n": entry["n"],
                    "agreement": entry["observed_agreement"],
                    "kappa": entry["kappa"],
                }
            )
        else:
            human_rows.append(entry)

    def mean(values: list[Any]) -> float | None:
        present = [float(v) for v in values if v is not None]
        return sum(present) / len(present) if present else None

    judge_agreement = mean([r["agreement"] for r in judge_rows])
    ceiling = mean([r["observed_agreement"] for r in human_rows])
    return {
        "accuracy": accuracy,
        "annotators": judge_rows,
        "judge_agreement": judge_agreement,
        "judge_kappa": mean([r["kappa"] for r in judge_rows]),
        "human_agreement": ceiling,
        "human_kappa": mean([r["kappa"] for r in human_rows]),
        "n_human_pairs": sum(r["n"] for r in human_rows),
        "below_ceiling": (
            judge_agreement < ceiling
            if judge_agreement is not None and ceiling is not None
            else None
        ),
    }


def judge_vs_humans(run: JudgingRun | None) -> dict[str, Any] | None:
    """The judge of ``run`` as one more annotator of its reference snapshot, per domain.

    For each scope (``overall`` and every domain): the judge's accuracy against the gold labels,
    its observed agreement and Cohen's kappa with each annotator (pairs both labelled; ``tie``
    is a label, ``invalid`` verdicts are left out), and the annotators' agreement with each other
    (the ceiling a judge cannot be expected to beat). None when no pair of the snapshot has a
    human label.
    """
    if run is None or run.reference_set_id is None:
        return None
    pair_ids = ReferenceItem.objects.filter(reference_set_id=run.reference_set_id).values_list(
        "pair_id", flat=True
    )
    humans = _human_ratings(pair_ids)
    if not humans:
        return None
    labelled = {rating.item for rating in humans}
    judge = [
        Rating(row["pair_id"], JUDGE_RATER, row["verdict"], row["domain"])
        for row in run_pair_outcomes(run, texts=False, rationales=False)
        if row["pair_id"] in labelled and row["verdict"] in _PAIR_VERDICTS
    ]
    report = agreement_report([*humans, *judge])
    summary = run.summary or {}
    scopes = {"overall": _scope_agreement(report, (summary.get("overall") or {}).get("accuracy"))}
    for domain, stats in report["by_domain"].items():
        accuracy = ((summary.get("by_domain") or {}).get(domain) or {}).get("accuracy")
        scopes[domain or "(no domain)"] = _scope_agreement(stats, accuracy)
    return {"run": run.pk, "scopes": scopes}


# --- the panel on the report page ---------------------------------------------------------------


def report_forensics(report: DriftReport) -> dict[str, Any]:
    """Everything the forensics panel of a drift report page shows."""
    attribution = latest_attribution(report)
    hunks = report_hunks(report)
    rows: list[dict[str, Any]] = []
    result = attribution.result if attribution is not None else {}
    by_id = {row["id"]: row for row in result.get("hunks") or []}
    for hunk in hunks:
        rows.append({"hunk": hunk.to_dict(), "figures": by_id.get(hunk.id)})
    if by_id:
        rows.sort(key=lambda r: -(r["figures"] or {}).get("explained", -1))
    return {
        "attribution": attribution,
        "result": result,
        "hunk_rows": rows,
        "criteria": criterion_drift(report.baseline_run, report.candidate_run),
        "humans": judge_vs_humans(report.candidate_run),
        "judge_drift": related_judge_drift(report),
    }
