"""``manage.py import_rubric FILE --project SLUG [--name NAME] [--rubric SLUG] [--publish]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Project
from apps.rubrics import services
from apps.rubrics.models import Rubric


class Command(BaseCommand):
    help = (
        "Import a rubric file (our JSON/YAML export, or a RIPD JSON Lines lineage of judge "
        "prompts) as a new rubric or as new versions of an existing one. All or nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="path of the file to import")
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--name", help="name of the new rubric (default: from the file)")
        parser.add_argument("--rubric", help="slug of an existing rubric to add versions to")
        parser.add_argument(
            "--publish", action="store_true", help="publish a JSON/YAML version at once"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        rubric = None
        if options["rubric"]:
            rubric = Rubric.objects.filter(project=project, slug=options["rubric"]).first()
            if rubric is None:
                raise CommandError(f"no rubric {options['rubric']!r} in project {project.slug}")
        try:
            result = services.rubric_import(
                actor=None,
                project=project,
                filename=path.name,
                data=path.read_bytes(),
                name=options["name"],
                rubric=rubric,
                publish=options["publish"],
            )
        except services.ImportFailed as exc:
            for error in exc.errors:
                where = ", ".join(
                    part
                    for part in (
                        f"line {error['line']}" if error.get("line") else "",
                        str(error.get("field") or ""),
                    )
                    if part
                )
                self.stderr.write(f"{path.name}: {where + ': ' if where else ''}{error['message']}")
            raise CommandError(
                f"{path.name}: nothing imported ({len(exc.errors)} problem(s))"
            ) from None
        numbers = ", ".join(f"v{v.number}" for v in result.versions)
        verb = "created" if result.created_rubric else "updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} rubric {result.rubric.name!r} ({result.rubric.slug}): {numbers}"
            )
        )
