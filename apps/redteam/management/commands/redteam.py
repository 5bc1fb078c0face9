"""``manage.py redteam``: how far can this rubric be pushed?

    manage.py redteam --version N --judge NAME_OR_ID --reference-set ID --target harmlessness
        [--target ...] [--benchmark-reference-set ID] [--editor deterministic|JUDGE_NAME_OR_ID]
        [--poison-feedback] [--generations G] [--population P] [--children C] [--sample-size S]
        [--max-judge-calls N] [--cost-cap X] [--benign K] [--seed S] [--json]

The whole job runs here, in this process (no worker needed), and is stored like one started
from the pages: its candidates, its frontier and the attack draft can be studied in the studio.

Exit status: 0 when no benchmark-compliant edit drifts a target beyond the rubric guard's
thresholds on the test split, 1 when one does, 2 on any error.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.forms import service_error_messages
from apps.datasets.models import ReferenceSet
from apps.judging.models import JudgeConfig
from apps.redteam import selectors, services
from apps.redteam.models import JobStatus, RedTeamJob
from apps.rubrics.models import RubricVersion

EXIT_OK = 0
EXIT_DRIFTS = 1
EXIT_ERROR = 2


def result_json(job: RedTeamJob) -> dict[str, Any]:
    """The command's JSON: the attack's figures on the test split, counts and the split."""
    test = job.result.get("test") or {}
    target, bench = test.get("target") or {}, test.get("benchmark") or {}
    best = None
    if job.best_id is not None:
        best = {
            "target_delta": target.get("delta"),
            "benchmark_delta": bench.get("delta"),
            "p": target.get("mcnemar_p"),
            "draft_version": job.draft_version_id,
            "edit": job.best.edit if job.best else "",
            "by_domain": {
                d: {"delta": s.get("delta"), "p_holm": s.get("p_holm")}
                for d, s in ((test.get("report") or {}).get("by_domain") or {}).items()
            },
        }
    return {
        "job": job.pk,
        "status": job.status,
        "verdict": job.result.get("verdict"),
        "robustness": selectors.robustness_line(job),
        "best": best,
        "candidates": job.candidates,
        "split": {name: job.split.get(name) for name in ("train", "val", "test")},
        "judge_calls": job.judge_calls,
        "cached_calls": job.cached_calls,
        "editor_calls": job.editor_calls,
        "cost": str(job.cost),
        "stop_reason": job.stop_reason,
        "benign_band": (job.result.get("benign_band") or {}).get("by_domain"),
        "frontier": job.result.get("frontier"),
    }


class Command(BaseCommand):
    help = (
        "Search for the rubric edit that moves the judge most on target domains while the "
        "benchmark passes; report it on held-out pairs. Exit 0: robust, 1: drifts, 2: error."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # ``--version`` names the rubric version here (the interface), so it replaces
        # Django's own "show the program's version" option instead of clashing with it.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", type=int, required=True, help="published version id")
        parser.add_argument("--judge", required=True, help="judge config name or id")
        parser.add_argument("--reference-set", type=int, required=True, help="reference set id")
        parser.add_argument(
            "--target", action="append", required=True, help="target domain (repeatable)"
        )
        parser.add_argument("--benchmark-reference-set", type=int, help="benchmark reference set")
        parser.add_argument(
            "--editor", default="deterministic", help="deterministic, or a judge name or id"
        )
        parser.add_argument("--poison-feedback", action="store_true", help="LLM editor only")
        parser.add_argument("--generations", type=int, default=5)
        parser.add_argument("--population", type=int, default=10)
        parser.add_argument("--children", type=int, default=4)
        parser.add_argument("--sample-size", type=int, default=200)
        parser.add_argument("--max-judge-calls", type=int)
        parser.add_argument("--cost-cap")
        parser.add_argument("--benign", type=int, default=4, help="benign paraphrases (K)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        version = (
            RubricVersion.objects.select_related("rubric__project")
            .filter(pk=options["version"])
            .first()
        )
        if version is None:
            raise CommandError(f"No rubric version {options['version']}.", returncode=EXIT_ERROR)
        project = version.rubric.project
        judge = self._judge(project, options["judge"], "--judge")
        editor = None
        if options["editor"] != "deterministic":
            editor = self._judge(project, options["editor"], "--editor")
        reference_set = self._reference_set(project, options["reference_set"], "--reference-set")
        benchmark = None
        if options.get("benchmark_reference_set") is not None:
            benchmark = self._reference_set(
                project, options["benchmark_reference_set"], "--benchmark-reference-set"
            )
        cost_cap = None
        if options.get("cost_cap"):
            try:
                cost_cap = Decimal(options["cost_cap"])
            except InvalidOperation:
                raise CommandError(
                    f"--cost-cap: not a number: {options['cost_cap']!r}", returncode=EXIT_ERROR
                ) from None
        try:
            job = services.redteam_start(
                actor=None,
                rubric_version=version,
                judge=judge,
                reference_set=reference_set,
                targets=options["target"],
                editor=editor,
                poison_feedback=options["poison_feedback"],
                benchmark_reference_set=benchmark,
                generations=options["generations"],
                population=options["population"],
                children=options["children"],
                sample_size=options["sample_size"],
                max_judge_calls=options.get("max_judge_calls"),
                cost_cap=cost_cap,
                benign_k=options["benign"],
                seed=options["seed"],
                dispatch=False,
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(service_error_messages(exc)), returncode=EXIT_ERROR
            ) from None
        job = services.job_execute(job=job)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(
                f"Red team {job.pk} ended {job.status}: {job.error or job.stop_reason}",
                returncode=EXIT_ERROR,
            )
        if options["json"]:
            self.stdout.write(json.dumps(result_json(job), indent=2))
        else:
            self.stdout.write(f"Red team {job.pk}: {selectors.robustness_line(job)}")
            if job.draft_version_id:
                self.stdout.write(f"attack draft: version id {job.draft_version_id}")
        if job.result.get("verdict") == "drifts":
            raise SystemExit(EXIT_DRIFTS)

    def _judge(self, project: Any, raw: str, flag: str) -> JudgeConfig:
        judges = JudgeConfig.objects.filter(project=project)
        found = judges.filter(name=raw).first()
        if found is None and raw.isdigit():
            found = judges.filter(pk=int(raw)).first()
        if found is None:
            raise CommandError(f"{flag}: no judge {raw!r} in {project}.", returncode=EXIT_ERROR)
        return found

    def _reference_set(self, project: Any, pk: int, flag: str) -> ReferenceSet:
        found = ReferenceSet.objects.filter(project=project, pk=pk).first()
        if found is None:
            raise CommandError(
                f"{flag}: no reference set {pk} in {project}.", returncode=EXIT_ERROR
            )
        return found
