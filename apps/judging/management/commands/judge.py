"""``manage.py judge``: start a run from the command line, and optionally wait for it.

    manage.py judge --rubric-version 12 --judge "Offline demo judge" --reference-set 3 --wait

Exit status with ``--wait``: 0 when the run succeeded, 1 when it ended partial, failed or
cancelled (or the wait timed out). Without ``--wait`` it prints the run id and returns at once.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm

from apps.datasets.models import Dataset, ReferenceSet
from apps.judging import selectors, services
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from apps.rubrics.models import RubricVersion


class Command(BaseCommand):
    help = "Start a judging run; --wait shows a progress bar and fails unless the run succeeds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rubric-version", type=int, required=True, help="rubric version id")
        parser.add_argument("--judge", required=True, help="judge config name (or id)")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--reference-set", type=int, help="reference snapshot id")
        target.add_argument("--dataset", type=int, help="dataset id (every pair)")
        parser.add_argument("--no-cache", action="store_true", help="ask the judge again")
        parser.add_argument(
            "--check-override",
            default="",
            help="a reason to start although the judge's last check failed (audited)",
        )
        parser.add_argument("--wait", action="store_true", help="follow the run until it ends")
        parser.add_argument("--timeout", type=float, default=0, help="give up waiting (seconds)")
        parser.add_argument("--interval", type=float, default=0.5, help="polling interval (s)")

    def handle(self, *args: Any, **options: Any) -> None:
        version = (
            RubricVersion.objects.select_related("rubric__project")
            .filter(pk=options["rubric_version"])
            .first()
        )
        if version is None:
            raise CommandError(f"No rubric version {options['rubric_version']}.")
        project = version.rubric.project
        judge = self._judge(project, options["judge"])
        reference_set = dataset = None
        if options["reference_set"] is not None:
            reference_set = ReferenceSet.objects.filter(
                pk=options["reference_set"], project=project
            ).first()
            if reference_set is None:
                raise CommandError(f"No reference set {options['reference_set']} in {project}.")
        else:
            dataset = Dataset.objects.filter(pk=options["dataset"], project=project).first()
            if dataset is None:
                raise CommandError(f"No dataset {options['dataset']} in {project}.")
        try:
            run = services.run_start(
                actor=None,
                rubric_version=version,
                judge=judge,
                reference_set=reference_set,
                dataset=dataset,
                purpose="cli",
                use_cache=not options["no_cache"],
                check_override=options["check_override"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(
            f"Run {run.pk} started: {run.total} judgments with {services.judge_label(judge)}."
        )
        if not options["wait"]:
            return
        run = self._wait(run, timeout=options["timeout"], interval=options["interval"])
        self._report(run)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Run {run.pk} ended {run.status}: {run.error or 'no detail'}")

    def _judge(self, project: Any, name: str) -> JudgeConfig:
        judges = JudgeConfig.objects.filter(project=project)
        judge = judges.filter(name=name).first()
        if judge is None and name.isdigit():
            judge = judges.filter(pk=int(name)).first()
        if judge is None:
            known = ", ".join(judges.values_list("name", flat=True)) or "none"
            raise CommandError(f"No judge {name!r} in {project} (known: {known}).")
        return judge

    def _wait(self, run: JudgingRun, *, timeout: float, interval: float) -> JudgingRun:
        deadline = time.monotonic() + timeout if timeout > 0 else None
        bar_file = _BarStream(self.stderr)
        with tqdm(total=run.total, unit="judgment", file=bar_file, dynamic_ncols=True) as bar:
            while True:
                run.refresh_from_db()
                progress = selectors.run_progress(run)
                bar.n = progress.finished
                bar.set_postfix(status=run.status, failed=run.failed, cached=run.cached)
                bar.refresh()
                if run.is_finished:
                    return run
                if deadline is not None and time.monotonic() > deadline:
                    raise CommandError(
                        f"Run {run.pk} still {run.status} after {timeout:g}s "
                        f"({progress.finished}/{progress.total}); it keeps running."
                    )
                time.sleep(interval)

    def _report(self, run: JudgingRun) -> None:
        accuracy = selectors.run_accuracy(run)
        overall = accuracy["overall"]
        self.stdout.write(
            f"Run {run.pk}: {run.status}; {run.done} done, {run.failed} failed, "
            f"{run.cached} from cache; tokens {run.tokens_in}/{run.tokens_out}; cost {run.cost}"
        )
        for name, figures in [("overall", overall), *sorted(accuracy["by_domain"].items())]:
            value = figures.get("accuracy")
            shown = f"{value:.3f}" if value is not None else "n/a"
            self.stdout.write(f"  {name:<24} n={figures['n']:<6} accuracy={shown}")


class _BarStream:
    """The command's stderr for tqdm: Django's wrapper ends every write with a newline, which
    turns each redraw of the bar (``\r...``) into a new line; this writes the text as it is."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()
