"""``manage.py import_pairs``: same formats and errors as the API; all or nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.annotations.models import Annotation
from apps.datasets.models import Dataset, Pair
from tests.datasets.samples import ALL_SAMPLES, BAD_FILES, JSONL, Sample

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, sample: Sample) -> Path:
    path = tmp_path / sample.name
    path.write_bytes(sample.content)
    return path


def _run(path: Path | str, project: Any, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_pairs", str(path), project=project.slug, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda s: s.name)
def test_each_format_creates_the_dataset_and_imports(
    sample: Sample, project: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path, sample)
    out, _ = _run(path, project, dataset="From CLI", format=sample.format)

    dataset = Dataset.objects.get(project=project, name="From CLI")
    assert dataset.pairs.count() == sample.created
    assert "created dataset 'From CLI'" in out
    assert f"imported {sample.created} pairs" in out
    assert f"{sample.duplicates} duplicates" in out

    again, _ = _run(path, project, dataset="From CLI", format=sample.format)
    assert "imported 0 pairs" in again
    assert f"{sample.created + sample.duplicates} duplicates" in again
    assert "created dataset" not in again
    assert dataset.pairs.count() == sample.created


def test_domain_and_seed_options(project: Any, tmp_path: Path) -> None:
    _run(_write(tmp_path, JSONL), project, dataset="D", format="jsonl", domain="chat", seed=7)
    assert Dataset.objects.get(name="D").pairs.get(external_id="j4").domain == "chat"


@pytest.mark.parametrize(
    ("case", "format_name", "content", "line", "field"),
    BAD_FILES,
    ids=[case[0] for case in BAD_FILES],
)
def test_a_bad_file_prints_line_and_field_and_writes_nothing(
    case: str,
    format_name: str,
    content: bytes,
    line: int | None,
    field: str | None,
    project: Any,
    tmp_path: Path,
) -> None:
    path = tmp_path / f"{case}.data"
    path.write_bytes(content)
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_pairs",
            str(path),
            project=project.slug,
            dataset="Bad",
            format=format_name,
            stdout=io.StringIO(),
            stderr=err,
        )
    where = f"line {line}" if line is not None else "file"
    if field:
        where += f", field {field}"
    assert any(row.startswith(where + ":") for row in err.getvalue().splitlines()), err.getvalue()
    assert not Dataset.objects.filter(name="Bad").exists()
    assert Pair.objects.count() == 0
    assert Annotation.objects.count() == 0


def test_unknown_project_format_and_file(project: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, JSONL)
    with pytest.raises(CommandError, match="no project"):
        call_command("import_pairs", str(path), project="nope", dataset="D", format="jsonl")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_pairs",
            str(path),
            project=project.slug,
            dataset="D",
            format="xml",
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="no such file"):
        call_command(
            "import_pairs",
            str(tmp_path / "missing"),
            project=project.slug,
            dataset="D",
            format="jsonl",
        )
    assert not Dataset.objects.filter(name="D").exists()


def test_the_command_exits_non_zero_on_a_bad_file(transactional_db: None, tmp_path: Path) -> None:
    """As a real process on the test database: exit status 1, the problem on stderr."""
    from django.conf import settings

    from apps.accounts.models import Project
    from tests.conftest import database_url_for_subprocess

    Project.objects.create(name="Process", slug="process")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD_FILES[1][2])  # the prompt is missing on line 3
    env = dict(os.environ)
    url = database_url_for_subprocess()
    if url:
        env["DATABASE_URL"] = url
    else:
        env["RUBRICSTUDIO_TEST_SQLITE"] = str(settings.DATABASES["default"]["NAME"])
    command = [sys.executable, "manage.py", "import_pairs", str(path), "--project", "process"]
    completed = subprocess.run(
        [*command, "--dataset", "D", "--format", "jsonl"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert "line 3, field prompt: field prompt is missing" in completed.stderr
    assert not Dataset.objects.filter(name="D").exists()
