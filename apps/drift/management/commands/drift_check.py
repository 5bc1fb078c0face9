"""``manage.py drift_check``: a drift gate for CI pipelines.

    manage.py drift_check --baseline 11 --candidate 12 [--judge NAME --reference-set 3] [--json]

``--baseline`` and ``--candidate`` are rubric version ids; the judge (name or id) and the
reference set default to the candidate rubric's drift guard. Runs that are missing are judged
right here, in this process (a finished run of the same version, judge and snapshot is reused),
so no worker is needed and the command ends when the report is ready. The report is stored like
any other: a flagged one opens an alert in the studio. A comparison (the two versions, the judge
config and the snapshot) is made once: running the command again prints the stored report and
the decision on its alert, and opens no second alert.

Exit status: 0 when the report raised no flag, 1 when it did, 2 on any error.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.datasets.models import ReferenceSet
from apps.drift import explain, selectors, services
from apps.drift.api.serializers import DriftReportDetailSerializer
from apps.drift.models import ReportStatus, ReportTrigger
from apps.judging.models import JudgeConfig
from apps.rubrics.models import RubricVersion

EXIT_OK = 0
EXIT_FLAGGED = 1
EXIT_ERROR = 2


class Command(BaseCommand):
    help = (
        "Compare two rubric versions on one judge and reference set; judge what is missing "
        "in-process; print the report. Exit 0: no flag, 1: flagged, 2: error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--baseline", type=int, required=True, help="baseline version id")
        parser.add_argument("--candidate", type=int, required=True, help="candidate version id")
        parser.add_argument("--judge", help="judge config name or id (default: the guard's)")
        parser.add_argument(
            "--reference-set", type=int, help="reference snapshot id (default: the guard's)"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        baseline = self._version(options["baseline"], "baseline")
        candidate = self._version(options["candidate"], "candidate")
        project = candidate.rubric.project
        if baseline.rubric.project_id != project.pk:
            raise CommandError("The two versions belong to different projects.", returncode=2)
        judge = self._judge(project, options.get("judge"), candidate)
        reference_set = self._reference_set(project, options.get("reference_set"), candidate)
        started = timezone.now()
        try:
            report = services.drift_check_start(
                actor=None,
                version=candidate,
                baseline=baseline,
                judge=judge,
                reference_set=reference_set,
                trigger=ReportTrigger.CLI,
                execute=True,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=EXIT_ERROR) from None
        if report is None:  # only without a baseline, which is required here
            raise CommandError("Nothing to compare.", returncode=EXIT_ERROR)
        if report.status != ReportStatus.READY:
            raise CommandError(
                f"Drift report {report.pk} is {report.status}: {report.error or 'not built'}",
                returncode=EXIT_ERROR,
            )
        if options["json"]:
            self.stdout.write(json.dumps(DriftReportDetailSerializer(report).data, indent=2))
        else:
            self._print_summary(report, stored=report.created_at < started)
        if report.flags:
            raise SystemExit(EXIT_FLAGGED)

    def _print_summary(self, report: Any, *, stored: bool) -> None:
        self.stdout.write(
            f"Drift report {report.pk}: {report.rubric.name} "
            f"v{report.baseline_version.number} -> v{report.candidate_version.number} "
            f"(judge {report.judge.name}, {report.reference_set})"
        )
        if stored:
            self.stdout.write(
                "This comparison was made before: the stored report and its decision stand."
            )
        for line in explain.summary_lines(report.stats, report.flags):
            self.stdout.write(line)
        alert = selectors.report_alert(report)
        if alert is not None:
            self.stdout.write(
                f"alert {alert.pk} ({alert.severity}, {alert.get_status_display().lower()}): "
                f"{alert.headline}"
            )
            if alert.reason:
                self.stdout.write(f"decision: {alert.reason}")
        lineage = selectors.blocked_ancestry(report.candidate_version)
        if lineage:
            self.stdout.write(lineage)

    def _version(self, pk: int, what: str) -> RubricVersion:
        version = RubricVersion.objects.select_related("rubric__project").filter(pk=pk).first()
        if version is None:
            raise CommandError(f"No rubric version {pk} ({what}).", returncode=EXIT_ERROR)
        if not version.is_published:
            raise CommandError(
                f"{what} v{version.number} (id {pk}) is a draft; publish it first.",
                returncode=EXIT_ERROR,
            )
        return version

    def _judge(self, project: Any, raw: str | None, candidate: RubricVersion) -> JudgeConfig:
        if not raw:
            judge = selectors.guard_for(candidate.rubric).judge
            if judge is None:
                raise CommandError(
                    "Give --judge: the rubric's drift guard names no judge.", returncode=EXIT_ERROR
                )
            return judge
        judges = JudgeConfig.objects.filter(project=project)
        found = judges.filter(name=raw).first()
        if found is None and raw.isdigit():
            found = judges.filter(pk=int(raw)).first()
        if found is None:
            raise CommandError(f"No judge {raw!r} in {project}.", returncode=EXIT_ERROR)
        return found

    def _reference_set(
        self, project: Any, pk: int | None, candidate: RubricVersion
    ) -> ReferenceSet:
        if pk is None:
            reference_set = selectors.guard_for(candidate.rubric).reference_set
            if reference_set is None:
                raise CommandError(
                    "Give --reference-set: the rubric's drift guard names no reference set.",
                    returncode=EXIT_ERROR,
                )
            return reference_set
        found = ReferenceSet.objects.filter(pk=pk, project=project).first()
        if found is None:
            raise CommandError(f"No reference set {pk} in {project}.", returncode=EXIT_ERROR)
        return found
