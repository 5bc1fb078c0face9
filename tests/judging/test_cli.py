"""``manage.py judge``: starts a run; ``--wait`` follows it and fails unless it succeeds."""

from __future__ import annotations

import socket
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.judging.models import JudgingRun, RunStatus
from tests.factories import make_dataset, make_judge, make_reference_set, make_version

# Transactional: the run's chunks are dispatched on commit and run eagerly before --wait polls.
pytestmark = pytest.mark.django_db(transaction=True)


def test_judge_wait_succeeds_and_prints_accuracy(project: Any) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=10)
    make_judge(project, name="Offline demo")
    out, err = StringIO(), StringIO()
    call_command(
        "judge",
        "--rubric-version",
        str(version.pk),
        "--judge",
        "Offline demo",
        "--reference-set",
        str(reference.pk),
        "--wait",
        stdout=out,
        stderr=err,
    )
    run = JudgingRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.purpose == "cli"
    text = out.getvalue()
    assert f"Run {run.pk} started: 20 judgments" in text and "demo/test judge" in text
    assert "succeeded" in text and "helpfulness" in text and "accuracy=" in text
    assert "20/20" in err.getvalue()  # the progress bar reached the end
    # One line: every redraw of the bar goes back to its start instead of adding a line.
    assert err.getvalue().count("\n") == 1 and err.getvalue().count("\r") >= 2


def test_judge_without_wait_returns_at_once(project: Any) -> None:
    version = make_version(project)
    dataset, _ = make_dataset(project, n_pairs=3)
    judge = make_judge(project)
    out = StringIO()
    call_command(
        "judge",
        "--rubric-version",
        str(version.pk),
        "--judge",
        str(judge.pk),
        "--dataset",
        str(dataset.pk),
        stdout=out,
    )
    run = JudgingRun.objects.get()
    assert run.dataset == dataset and run.total == 6
    assert f"Run {run.pk} started" in out.getvalue()


def test_judge_wait_fails_when_the_run_fails(project: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=4)
    make_judge(
        project,
        name="Down",
        backend="openai",
        model="m",
        base_url=f"http://127.0.0.1:{port}/v1",
        params={"max_attempts": 1},
    )
    with pytest.raises(CommandError, match="ended failed"):
        call_command(
            "judge",
            "--rubric-version",
            str(version.pk),
            "--judge",
            "Down",
            "--reference-set",
            str(reference.pk),
            "--wait",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert JudgingRun.objects.get().status == RunStatus.FAILED


def test_judge_refuses_unknown_names(project: Any) -> None:
    version = make_version(project)
    reference = make_reference_set(project, n_pairs=2)
    make_judge(project, name="Offline demo")
    with pytest.raises(CommandError, match=r"No judge 'Nope'.*Offline demo"):
        call_command(
            "judge",
            "--rubric-version",
            str(version.pk),
            "--judge",
            "Nope",
            "--reference-set",
            str(reference.pk),
        )
    assert not JudgingRun.objects.exists()
