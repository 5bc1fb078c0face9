"""``manage.py judge_check``: check a judge config in this process and print what it found.

    manage.py judge_check --project demo --judge "Local Gemma" [--apply] [--json]

``--apply`` applies the check's recommendations and checks again, so the second report says
whether they fixed it. Exit status: 0 when the (last) check passed, with or without warnings;
1 when it failed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import Project
from apps.judging import check as checks
from apps.judging.models import CheckStatus, JudgeCheck, JudgeConfig


class Command(BaseCommand):
    help = "Check a judge: canaries and a sanity set; prints findings and recommendations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--judge", required=True, help="judge config name (or id)")
        parser.add_argument(
            "--apply", action="store_true", help="apply the recommendations, then check again"
        )
        parser.add_argument("--json", action="store_true", help="print the checks as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project {options['project']!r}.")
        judges = JudgeConfig.objects.filter(project=project)
        name = options["judge"]
        judge = judges.filter(name=name).first()
        if judge is None and name.isdigit():
            judge = judges.filter(pk=int(name)).first()
        if judge is None:
            known = ", ".join(judges.values_list("name", flat=True)) or "none"
            raise CommandError(f"No judge {name!r} in {project} (known: {known}).")

        done = [self._check(judge)]
        if options["apply"] and done[0].recommendations:
            try:
                judge = checks.judge_check_apply(actor=None, check=done[0])
            except ValidationError as exc:
                raise CommandError(
                    "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                ) from None
            done.append(self._check(judge))
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(c) for c in done], indent=2))
        else:
            for number, check in enumerate(done):
                if number:
                    self.stdout.write("Applied the recommendations; checked again:")
                self._report(check)
        if done[-1].status == CheckStatus.FAILED:
            raise CommandError(f"Check {done[-1].pk} of {judge.name!r} failed.")

    @staticmethod
    def _check(judge: JudgeConfig) -> JudgeCheck:
        check = checks.judge_check_start(actor=None, judge=judge, dispatch=False)
        return checks.judge_check_execute(check=check)

    def _report(self, check: JudgeCheck) -> None:
        sanity = (check.metrics or {}).get("sanity") or {}
        self.stdout.write(f"Check {check.pk} of {check.judge.name!r}: {check.status}")
        if sanity:
            latency = sanity.get("latency_ms") or {}
            self.stdout.write(
                f"  parse rate {sanity['n_valid']}/{sanity['n_requests']}, position "
                f"consistency {sanity['n_consistent']}/{sanity['n_pairs_both_valid']}, "
                f"obvious answers right {sanity['n_correct']}/{sanity['n_requests']}, "
                f"server latency median {latency.get('median', '-')} ms"
            )
        for key in ("system_role", "support"):
            if key in (check.metrics or {}):
                self.stdout.write(f"  {key}: {check.metrics[key]}")
        for finding in check.findings:
            self.stdout.write(f"  [{finding['severity']}] {finding['message']}")
        for rec in check.recommendations:
            self.stdout.write(f"  recommended: {rec['title']} {json.dumps(rec['changes'])}")


def _as_dict(check: JudgeCheck) -> dict[str, Any]:
    return {
        "id": check.pk,
        "judge": check.judge_id,
        "status": check.status,
        "metrics": check.metrics,
        "findings": check.findings,
        "recommendations": check.recommendations,
    }
