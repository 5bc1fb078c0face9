"""The judge check through the API and the pages: start, read, apply in one click; roles."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.core.models import AuditEvent
from apps.judging.models import CheckStatus, JudgeCheck, JudgeConfig
from tests.factories import make_judge, make_reference_set, make_version
from tests.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.django_db

PARAMS = {"backoff_base_s": 0.01, "timeout_s": 10.0, "http_client": "httpx"}


@pytest.fixture
def dropping_judge(project: Any, fake_server: FakeOpenAIServer) -> JudgeConfig:
    fake_server.configure(system_role="dropped")
    return make_judge(
        project,
        name="<script>alert('judge')</script>",
        backend="openai",
        model="fake-judge",
        base_url=fake_server.base_url,
        params=dict(PARAMS),
    )


def test_api_starts_a_check_then_applies_its_recommendations(
    api_client_for: Any,
    members: dict[str, Any],
    dropping_judge: JudgeConfig,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = api_client_for(members["author"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/judge-checks/", {"judge": dropping_judge.pk}, format="json")
    assert response.status_code == 202, response.content
    started = response.json()
    assert started["status"] == "running" and started["url"].endswith(f"/{started['id']}/")

    detail = client.get(started["url"]).json()
    assert detail["status"] == CheckStatus.FAILED
    assert "system_dropped" in {f["code"] for f in detail["findings"]}
    assert "merge_system" in {r["code"] for r in detail["recommendations"]}

    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post(
            f"/api/judge-checks/{started['id']}/apply/", {"codes": ["nope"]}, format="json"
        )
    assert applied.status_code == 400 and "codes" in applied.json()
    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post(f"/api/judge-checks/{started['id']}/apply/", {}, format="json")
    assert applied.status_code == 202, applied.content
    again = client.get(applied.json()["url"]).json()
    assert again["status"] != CheckStatus.FAILED, again["findings"]
    dropping_judge.refresh_from_db()
    assert dropping_judge.params["prompt_layout"] == "merged"
    listed = client.get(f"/api/judge-checks/?judge={dropping_judge.pk}").json()
    assert [c["id"] for c in listed["results"]] == [again["id"], started["id"]]


def test_api_roles_and_bad_input(
    api_client_for: Any, members: dict[str, Any], dropping_judge: JudgeConfig
) -> None:
    viewer = api_client_for(members["viewer"])
    refused = viewer.post("/api/judge-checks/", {"judge": dropping_judge.pk}, format="json")
    assert refused.status_code == 403 and "detail" in refused.json()
    assert api_client_for(members["annotator"]).get("/api/judge-checks/").status_code == 403
    author = api_client_for(members["author"])
    missing = author.post("/api/judge-checks/", {}, format="json")
    assert missing.status_code == 400 and "judge" in missing.json()
    assert not JudgeCheck.objects.exists()


def test_api_run_start_names_the_override_field(
    api_client_for: Any, members: dict[str, Any], project: Any, dropping_judge: JudgeConfig
) -> None:
    from apps.judging import check as checks

    checks.judge_check_execute(
        check=checks.judge_check_start(actor=None, judge=dropping_judge, dispatch=False)
    )
    body = {
        "rubric_version": make_version(project).pk,
        "judge": dropping_judge.pk,
        "reference_set": make_reference_set(project, n_pairs=2).pk,
    }
    client = api_client_for(members["author"])
    refused = client.post("/api/runs/", body, format="json")
    assert refused.status_code == 400
    assert "check_override" in refused.json()
    started = client.post("/api/runs/", {**body, "check_override": "Known bad."}, format="json")
    assert started.status_code == 202, started.content
    assert AuditEvent.objects.filter(action="run.check_override").count() == 1


def test_pages_check_a_judge_show_findings_escaped_and_apply_in_one_click(
    members: dict[str, Any],
    project: Any,
    dropping_judge: JudgeConfig,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = Client()
    client.force_login(members["author"])
    judges_url = f"/p/{project.slug}/runs/judges/"
    listing = client.get(judges_url).content.decode()
    assert "never checked" in listing
    assert "<script>alert('judge')</script>" not in listing
    assert "&lt;script&gt;" in listing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{judges_url}{dropping_judge.pk}/check/")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'data-finding="system_dropped"' in page
    assert 'data-recommendation="merge_system"' in page
    assert "<script>alert('judge')</script>" not in page
    assert "data-apply" in page

    check = JudgeCheck.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post(f"{judges_url}{dropping_judge.pk}/checks/{check.pk}/apply/")
    assert applied.status_code == 302
    after = client.get(applied["Location"]).content.decode()
    assert 'data-finding="system_dropped"' not in after
    assert 'data-figure-link="sanity-valid">8</a> / 8<' in after
    listing = client.get(judges_url).content.decode()
    assert "never checked" not in listing

    # A viewer reads checks but cannot start or apply them.
    viewer = Client()
    viewer.force_login(members["viewer"])
    assert viewer.get(applied["Location"]).status_code == 200
    assert viewer.post(f"{judges_url}{dropping_judge.pk}/check/").status_code == 403
    assert "data-apply" not in viewer.get(response["Location"]).content.decode()


def test_the_run_page_shows_an_override_and_the_form_asks_for_one(
    members: dict[str, Any], project: Any, dropping_judge: JudgeConfig
) -> None:
    from apps.judging import check as checks

    checks.judge_check_execute(
        check=checks.judge_check_start(actor=None, judge=dropping_judge, dispatch=False)
    )
    version = make_version(project)
    reference_set = make_reference_set(project, n_pairs=2)
    client = Client()
    client.force_login(members["author"])
    form = {
        "rubric_version": version.pk,
        "judge": dropping_judge.pk,
        "target": f"rs:{reference_set.pk}",
        "use_cache": "on",
    }
    refused = client.post(f"/p/{project.slug}/runs/new/", form)
    assert refused.status_code == 400
    assert "give a reason to start anyway" in refused.content.decode()
    started = client.post(
        f"/p/{project.slug}/runs/new/", {**form, "check_override": "<b>on purpose</b>"}
    )
    assert started.status_code == 302
    page = client.get(started["Location"]).content.decode()
    assert "data-check-override" in page and "&lt;b&gt;on purpose&lt;/b&gt;" in page
