"""``manage.py import_pairs FILE --project SLUG --dataset NAME --format F``: same as the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.accounts.models import Project
from apps.datasets import services
from apps.datasets.importers import FORMATS, ImportFailed
from apps.datasets.models import Dataset


class Command(BaseCommand):
    help = (
        "Import a file of pairs into a dataset (created if missing): all of it, or nothing "
        "and the problems with their line numbers. FILE may be '-' for standard input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the file (plain or gzip), or - for stdin")
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--dataset", required=True, help="dataset name (created if missing)")
        parser.add_argument("--format", required=True, help=f"one of {', '.join(FORMATS)}")
        parser.add_argument("--domain", default=None, help="domain for rows without one")
        parser.add_argument("--seed", type=int, default=0, help="seed of the A/B coin flip")
        parser.add_argument(
            "--mapping",
            default=None,
            help='JSON object renaming fields for jsonl/csv, e.g. \'{"prompt": "question"}\'',
        )
        parser.add_argument("--user", default=None, help="username recorded in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['user']!r}")
        mapping = self._mapping(options["mapping"])
        path = options["file"]
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"no such file: {path}")

        try:
            with self._open(path) as fileobj, transaction.atomic():
                # Created inside the import's transaction: a failed import leaves no dataset.
                dataset = Dataset.objects.filter(project=project, name=options["dataset"]).first()
                created_dataset = dataset is None
                if dataset is None:
                    dataset = services.dataset_create(
                        actor=actor, project=project, name=options["dataset"]
                    )
                result = services.pairs_import(
                    actor=actor,
                    dataset=dataset,
                    file=fileobj,
                    format=options["format"],
                    domain=options["domain"],
                    seed=options["seed"],
                    mapping=mapping,
                    source_name=None if path == "-" else Path(path).name,
                )
        except ImportFailed as exc:
            for problem in exc.problems:
                self.stderr.write(self._problem_line(problem))
            more = " (more may follow; only the first are listed)" if exc.truncated else ""
            raise CommandError(
                f"{len(exc.problems)} problem(s){more}; nothing was imported"
            ) from None

        if created_dataset:
            self.stdout.write(f"created dataset {dataset.name!r} in project {project.slug!r}")
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {result.created} pairs into {dataset.name!r}: "
                f"{result.duplicates} duplicates, {result.skipped} skipped"
                + (f", {result.annotations} annotator labels" if result.annotations else "")
            )
        )

    @staticmethod
    def _problem_line(problem: Any) -> str:
        where = f"line {problem.line}" if problem.line is not None else "file"
        if problem.field:
            where += f", field {problem.field}"
        return f"{where}: {problem.message}"

    @staticmethod
    def _mapping(raw: str | None) -> dict[str, str] | None:
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--mapping is not valid JSON: {exc}") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise CommandError("--mapping must be a JSON object of field names")
        return value

    @staticmethod
    def _open(path: str) -> Any:
        if path == "-":
            return _StdinBinary()
        return Path(path).open("rb")


class _StdinBinary:
    """Standard input's bytes as a context manager that leaves stdin open."""

    def __enter__(self) -> IO[bytes]:
        return sys.stdin.buffer

    def __exit__(self, *exc: object) -> None:
        return None
