"""``manage.py drift_check``: reports, JSON output and the exit codes a CI pipeline relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from apps.core.api import Conflict
from apps.drift import selectors, services
from apps.drift.models import DriftAlert, DriftReport, ReportTrigger
from apps.judging.models import JudgingRun, RunStatus
from apps.rubrics.services import rubric_label_move
from tests.conftest import REPO, database_url_for_subprocess
from tests.drift.factories import MASKED, UNCHANGED, make_scenario
from tests.factories import SAFE_CRITERIA, make_judge, make_reference_set, make_version


def _run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("drift_check", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
def test_no_flag_exits_0_with_a_summary(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED)
    code, out = _run("--baseline", str(scenario.v1.pk), "--candidate", str(scenario.v2.pk))
    assert code == 0
    assert "no flag" in out
    assert "overall: n=40" in out
    report = DriftReport.objects.get()
    assert report.trigger == ReportTrigger.CLI
    # The guard's finished runs were reused: nothing was judged again.
    assert report.baseline_run == scenario.baseline_run
    assert JudgingRun.objects.count() == 2


@pytest.mark.django_db
def test_flagged_exits_1_and_json_has_the_report(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    args = ("--baseline", str(scenario.v1.pk), "--candidate", str(scenario.v2.pk))
    code, out = _run(*args)
    assert code == 1
    assert "[masked_drift] harmlessness -30.0 pts" in out
    assert "alert" in out
    code, out = _run(*args, "--json")
    assert code == 1
    report = json.loads(out)
    assert {f["kind"] for f in report["flags"]} == {"domain_drift", "masked_drift"}
    assert report["by_domain"]["harmlessness"]["delta"] == pytest.approx(-0.3)
    assert report["status"] == "ready"
    assert DriftReport.objects.count() == 1  # the same runs: the same report


@pytest.mark.django_db
def test_re_running_a_decided_comparison_returns_the_stored_decision(
    project: Any, members: dict[str, Any], api_client_for: Any, client: Any
) -> None:
    """drift_check, the API and the page re-run v1 -> v2 after v2 was blocked: the same report,
    the same alert, still blocked, and v2 still refused."""
    scenario = make_scenario(project, MASKED)
    args = ("--baseline", str(scenario.v1.pk), "--candidate", str(scenario.v2.pk))
    code, _ = _run(*args)
    report = DriftReport.objects.get()
    services.alert_resolve(
        actor=members["admin"], alert=report.alert, decision="block", reason="Unsafe."
    )
    code, out = _run(*args)
    assert code == 1
    assert f"Drift report {report.pk}:" in out and "made before" in out
    assert f"alert {report.alert.pk} (high, blocked)" in out and "decision: Unsafe." in out
    answer = api_client_for(members["admin"]).post(
        reverse("drift-report-list"),
        {"baseline_version": scenario.v1.pk, "candidate_version": scenario.v2.pk},
        format="json",
    )
    assert answer.status_code == 202 and answer.json()["id"] == report.pk
    assert answer.json()["drift_status"] == "blocked"
    client.force_login(members["admin"])
    check = reverse(
        "drift:check",
        kwargs={"project": project.slug, "rubric": scenario.rubric.pk, "version": scenario.v2.pk},
    )
    page = client.post(check)
    assert page["Location"].endswith(f"/reports/{report.pk}/")
    assert DriftReport.objects.count() == 1 and DriftAlert.objects.count() == 1
    assert selectors.version_drift_status(scenario.v2) == selectors.BLOCKED
    with pytest.raises(Conflict):
        rubric_label_move(actor=members["admin"], rubric=scenario.rubric, version=scenario.v2)


@pytest.mark.django_db
def test_missing_runs_are_judged_in_process(project: Any) -> None:
    reference_set = make_reference_set(project, n_pairs=16)
    judge = make_judge(project, name="Offline")
    v1 = make_version(project, criteria=SAFE_CRITERIA)
    v2 = make_version(project, rubric=v1.rubric, instructions="Prefer concise answers.")
    code, out = _run(
        "--baseline",
        str(v1.pk),
        "--candidate",
        str(v2.pk),
        "--judge",
        "Offline",
        "--reference-set",
        str(reference_set.pk),
        "--json",
    )
    assert code in (0, 1)
    report = json.loads(out)
    runs = JudgingRun.objects.filter(judge=judge)
    assert runs.count() == 2
    assert set(runs.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    assert report["overall"]["n"] == 16
    assert code == (1 if report["flags"] else 0)


@pytest.mark.django_db
def test_errors_exit_2(project: Any) -> None:
    scenario = make_scenario(project, UNCHANGED, guard=False)
    draft = make_version(project, rubric=scenario.rubric, published=False)
    cases = [
        ("--baseline", "999999", "--candidate", str(scenario.v2.pk)),
        ("--baseline", str(scenario.v1.pk), "--candidate", str(draft.pk)),
        ("--baseline", str(scenario.v1.pk), "--candidate", str(scenario.v2.pk)),  # no guard
        (
            "--baseline",
            str(scenario.v1.pk),
            "--candidate",
            str(scenario.v2.pk),
            "--judge",
            "nobody",
            "--reference-set",
            str(scenario.reference_set.pk),
        ),
    ]
    for args in cases:
        with pytest.raises(CommandError) as caught:
            call_command("drift_check", *args, stdout=StringIO())
        assert caught.value.returncode == 2, args
    assert not DriftReport.objects.exists()


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    url = database_url_for_subprocess()
    if url:
        env["DATABASE_URL"] = url
    else:
        env["RUBRICSTUDIO_TEST_SQLITE"] = str(settings.DATABASES["default"]["NAME"])
    return env


@pytest.mark.django_db(transaction=True)
def test_real_process_exit_code_and_json(project: Any) -> None:
    scenario = make_scenario(project, MASKED)
    base = [sys.executable, "manage.py", "drift_check"]
    ids = ["--baseline", str(scenario.v1.pk), "--candidate", str(scenario.v2.pk)]
    flagged = subprocess.run(
        [*base, *ids, "--json"], cwd=REPO, env=_subprocess_env(), capture_output=True, text=True
    )
    assert flagged.returncode == 1, flagged.stderr
    assert json.loads(flagged.stdout)["flags"]
    # Errors exit 2 through Django's CommandError(returncode=2): see test_errors_exit_2.
