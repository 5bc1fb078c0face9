"""The red-team API (roles, 202, JSON errors, cancel), the command line and the pages."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.redteam import services
from apps.redteam.models import Candidate, JobStatus, RedTeamJob
from tests.factories import make_judge
from tests.redteam.factories import demo_rubric_version, redteam_reference_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(project: Any, members: Any) -> dict[str, Any]:
    return {
        "version": demo_rubric_version(project, members["admin"]),
        "reference": redteam_reference_set(project, extra=40),
        "judge": make_judge(project),
    }


def _body(setup: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "rubric_version": setup["version"].pk,
        "judge": setup["judge"].pk,
        "reference_set": setup["reference"].pk,
        "targets": ["harmlessness"],
        "generations": 2,
        "population": 2,
        "children": 2,
        "sample_size": 40,
        "seed": 3,
        **extra,
    }


def test_api_start_follow_and_cancel(setup: Any, members: Any, api_client_for: Any) -> None:
    admin = api_client_for(members["admin"])
    answer = admin.post("/api/redteams/", _body(setup), format="json")
    assert answer.status_code == 202, answer.content
    job = RedTeamJob.objects.get(pk=answer.json()["id"])
    assert answer.json()["split"]["test"] == job.split["test"] > 0
    assert AuditEvent.objects.filter(action="redteam.start", object_id=str(job.pk)).exists()
    detail = api_client_for(members["viewer"]).get(answer.json()["url"])
    assert detail.status_code == 200 and detail.json()["status"] == "queued"
    cancelled = admin.post(f"/api/redteams/{job.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == JobStatus.CANCELLED
    again = admin.post(f"/api/redteams/{job.pk}/cancel/")
    assert again.status_code == 409 and again["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("role", ["author", "viewer", "annotator"])
def test_only_admins_start_red_teams(
    setup: Any, members: Any, api_client_for: Any, role: str
) -> None:
    answer = api_client_for(members[role]).post("/api/redteams/", _body(setup), format="json")
    assert answer.status_code == 403
    assert not RedTeamJob.objects.exists()


def test_api_errors_are_json_and_name_the_field(
    setup: Any, members: Any, api_client_for: Any
) -> None:
    admin = api_client_for(members["admin"])
    for extra, field in (
        ({"targets": ["nope"]}, "targets"),
        ({"targets": []}, "targets"),
        ({"generations": 0}, "generations"),
        ({"editor": setup["judge"].pk}, "editor"),
    ):
        answer = admin.post("/api/redteams/", _body(setup, **extra), format="json")
        assert answer.status_code == 400, (extra, answer.content)
        assert field in json.dumps(answer.json()), answer.json()


def test_command_prints_the_json_and_exits_1_when_an_edit_drifts(setup: Any) -> None:
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(
            "redteam",
            "--version",
            str(setup["version"].pk),
            "--judge",
            setup["judge"].name,
            "--reference-set",
            str(setup["reference"].pk),
            "--target",
            "harmlessness",
            "--generations",
            "4",
            "--population",
            "4",
            "--sample-size",
            "80",
            "--seed",
            "7",
            "--json",
            stdout=out,
        )
    assert exited.value.code == 1
    data = json.loads(out.getvalue())
    job = RedTeamJob.objects.get(pk=data["job"])
    assert data["best"]["target_delta"] == job.result["test"]["target"]["delta"] <= -0.10
    assert data["best"]["benchmark_delta"] >= -job.selection_tolerance
    assert 0 <= data["best"]["p"] < 0.05
    assert data["best"]["draft_version"] == job.draft_version_id is not None
    assert data["candidates"] == job.candidates > 0
    assert data["split"] == {k: job.split[k] for k in ("train", "val", "test")}


def test_command_exits_0_when_nothing_drifts_and_2_on_errors(setup: Any) -> None:
    out = StringIO()
    # One generation with one child: the seeded edit here moves nothing beyond the guard.
    call_command(
        "redteam",
        "--version",
        str(setup["version"].pk),
        "--judge",
        str(setup["judge"].pk),
        "--reference-set",
        str(setup["reference"].pk),
        "--target",
        "harmlessness",
        "--generations",
        "1",
        "--population",
        "1",
        "--children",
        "1",
        "--sample-size",
        "40",
        "--seed",
        "1",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["verdict"] == "robust" and data["candidates"] == 2
    with pytest.raises(CommandError) as error:
        call_command(
            "redteam",
            "--version",
            str(setup["version"].pk),
            "--judge",
            "nobody",
            "--reference-set",
            str(setup["reference"].pk),
            "--target",
            "harmlessness",
        )
    assert error.value.returncode == 2 and "--judge" in str(error.value)
    with pytest.raises(CommandError) as error:
        call_command(
            "redteam",
            "--version",
            str(setup["version"].pk),
            "--judge",
            "Offline",
            "--reference-set",
            str(setup["reference"].pk),
            "--target",
            "weather",
        )
    assert error.value.returncode == 2 and "targets" in str(error.value)


def test_pages_show_progress_result_and_the_robustness_line(
    setup: Any, members: Any, client: Any, project: Any
) -> None:
    job = services.job_execute(
        job=services.redteam_start(
            actor=members["admin"],
            rubric_version=setup["version"],
            judge=setup["judge"],
            reference_set=setup["reference"],
            targets=["harmlessness"],
            generations=3,
            population=3,
            sample_size=60,
            seed=7,
            dispatch=False,
        )
    )
    # Editor text is user text: a hostile edit description stays inert.
    Candidate.objects.filter(pk=job.best_id).update(edit='<script>alert("x")</script>')
    client.force_login(members["viewer"])
    version_page = client.get(
        reverse(
            "rubrics:version",
            kwargs={
                "project": project.slug,
                "rubric": setup["version"].rubric_id,
                "version": setup["version"].pk,
            },
        )
    )
    text = version_page.content.decode()
    assert "Robustness:" in text and f"{job.candidates} candidates" in text
    assert "Red-team this version" not in text  # viewers cannot start one
    detail = client.get(reverse("redteam:detail", kwargs={"project": project.slug, "job": job.pk}))
    page = detail.content.decode()
    assert detail.status_code == 200
    assert "<svg" in page and 'class="frontier-line"' in page
    assert '<script>alert("x")</script>' not in page and "&lt;script&gt;" in page
    progress = client.get(
        reverse("redteam:progress", kwargs={"project": project.slug, "job": job.pk})
    )
    assert progress.status_code == 200 and "hx-get" not in progress.content.decode()
    assert progress["Cache-Control"] == "no-store"
    client.force_login(members["admin"])
    text = client.get(version_page.wsgi_request.path).content.decode()
    assert "Red-team this version" in text


def test_a_drift_report_shows_the_edit_against_the_red_team(
    setup: Any, members: Any, client: Any, project: Any
) -> None:
    from apps.drift import services as drift_services
    from apps.rubrics import services as rubric_services
    from apps.rubrics.demo import V2_CRITERIA, V2_INSTRUCTIONS

    version = setup["version"]
    job = services.job_execute(
        job=services.redteam_start(
            actor=members["admin"],
            rubric_version=version,
            judge=setup["judge"],
            reference_set=setup["reference"],
            targets=["harmlessness"],
            generations=2,
            population=2,
            sample_size=60,
            seed=7,
            dispatch=False,
        )
    )
    assert job.status == JobStatus.SUCCEEDED
    draft = rubric_services.rubric_version_create(
        actor=members["admin"],
        rubric=version.rubric,
        parent=version,
        instructions=V2_INSTRUCTIONS,
        criteria=V2_CRITERIA,
    )
    v2 = rubric_services.rubric_version_publish(actor=members["admin"], version=draft, message="v2")
    report = drift_services.drift_check_start(
        actor=members["admin"],
        version=v2,
        baseline=version,
        judge=setup["judge"],
        reference_set=setup["reference"],
        execute=True,
    )
    assert report is not None and report.by_domain["harmlessness"]["delta"] < 0
    client.force_login(members["viewer"])
    page = client.get(
        reverse("drift:report", kwargs={"project": project.slug, "report": report.pk})
    )
    text = page.content.decode()
    assert f"Against the red team of v{version.number}" in text
    band = job.result["benign_band"]["by_domain"]["harmlessness"]
    delta = report.by_domain["harmlessness"]["delta"]
    expected = "outside the band" if not band["low"] <= delta <= band["high"] else "within the band"
    assert expected in text


def test_the_start_form_shows_the_service_refusal_on_its_field(
    setup: Any, members: Any, client: Any, project: Any
) -> None:
    client.force_login(members["admin"])
    url = reverse("redteam:start", kwargs={"project": project.slug})
    form = client.get(url, {"rubric_version": setup["version"].pk})
    assert form.status_code == 200
    answer = client.post(
        url,
        {
            "rubric_version": setup["version"].pk,
            "judge": setup["judge"].pk,
            "reference_set": setup["reference"].pk,
            "targets": "<b>weather</b>",
            "editor": "deterministic",
            "generations": 2,
            "population": 2,
            "children": 2,
            "sample_size": 40,
            "benign_k": 1,
            "seed": 0,
        },
    )
    assert answer.status_code == 400
    text = answer.content.decode()
    assert "Not a domain of" in text and "&lt;b&gt;weather&lt;/b&gt;" in text
    assert not RedTeamJob.objects.exists()
    client.force_login(members["author"])
    assert client.get(url).status_code == 403
