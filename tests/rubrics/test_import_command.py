"""``manage.py import_rubric`` and the RIPD rubric files of ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.rubrics.models import Rubric, RubricVersion
from apps.rubrics.portable import read_text

pytestmark = pytest.mark.django_db

RIPD_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ripd-rubrics"
RIPD_FILES = sorted(RIPD_DIR.glob("*/*.jsonl")) if RIPD_DIR.is_dir() else []


def test_command_imports_a_lineage_as_a_new_rubric(tmp_path, project, capsys) -> None:
    path = tmp_path / "judge.jsonl"
    path.write_text(
        json.dumps({"prompt_id": "seed", "prompt": "{question}|{answer_a}|{answer_b}"})
        + "\n"
        + json.dumps(
            {
                "prompt_id": "e1",
                "parent_prompt_id": "seed",
                "prompt": "More. {question}|{answer_a}|{answer_b}",
            }
        )
        + "\n"
    )
    call_command("import_rubric", str(path), "--project", project.slug, "--name", "Lineage")
    rubric = Rubric.objects.get(project=project, name="Lineage")
    seed, edit = rubric.versions.order_by("number")
    assert edit.parent == seed
    assert seed.template == "{prompt}|{response_a}|{response_b}"
    assert "created rubric 'Lineage'" in capsys.readouterr().out


def test_command_adds_a_version_to_an_existing_rubric(tmp_path, project, rubric, v1) -> None:
    path = tmp_path / "next.yaml"
    path.write_text(
        "name: Whatever\ninstructions: Be careful.\n"
        "criteria:\n  - key: careful\n    title: Careful\n"
    )
    call_command(
        "import_rubric", str(path), "--project", project.slug, "--rubric", rubric.slug, "--publish"
    )
    version = rubric.versions.get(number=2)
    assert (version.parent, version.is_published) == (v1, True)
    assert version.message == "Imported from next.yaml."


def test_command_reports_problems_with_lines_and_imports_nothing(tmp_path, project, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ncriteria:\n  - key: a\n    title: A\n    kind: rule\n")
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_rubric", str(path), "--project", project.slug)
    assert "bad.yaml: line 5, criteria[0].kind: must be one of" in capsys.readouterr().err
    assert not Rubric.objects.exists()


def test_command_refuses_an_unknown_project(tmp_path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(CommandError, match="no project"):
        call_command("import_rubric", str(path), "--project", "nope")


@pytest.mark.skipif(not RIPD_FILES, reason="../shared/data/ripd-rubrics not present")
def test_all_ripd_rubric_files_import(project) -> None:
    assert len(RIPD_FILES) == 6
    for path in RIPD_FILES:
        call_command("import_rubric", str(path), "--project", project.slug)
        rows = [json.loads(line) for line in read_text(path.read_bytes()).splitlines() if line]
        rubric = Rubric.objects.filter(project=project).order_by("-id").first()
        versions = list(rubric.versions.order_by("number"))
        assert len(versions) == len(rows), path
        assert all(v.is_published for v in versions)
        assert all(v.content_hash for v in versions)
        for version in versions:
            assert "{response_a}" in version.template and "{answer_a}" not in version.template
        # The edited rubric of each *_selected_* file hangs from its seed.
        assert [v.parent_id for v in versions[1:]] == [versions[0].pk] * (len(versions) - 1)
    # Both seed.jsonl files import, under distinct names.
    assert Rubric.objects.filter(project=project, name__startswith="seed").count() == 2
    assert RubricVersion.objects.filter(rubric__project=project).count() == 10
