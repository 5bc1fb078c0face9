"""The judging pages: run list, start form with its estimate, run page, progress polling, judges."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.judging import services
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from tests.factories import make_judge, make_reference_set, make_version

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def objects(project: Any) -> dict[str, Any]:
    version = make_version(project)
    reference_set = make_reference_set(project, n_pairs=12)
    judge = make_judge(project, name="Offline demo")
    return {"version": version, "reference_set": reference_set, "judge": judge}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _finished_run(objects: dict[str, Any]) -> JudgingRun:
    run = services.run_start(
        actor=None,
        rubric_version=objects["version"],
        judge=objects["judge"],
        reference_set=objects["reference_set"],
        dispatch=False,
    )
    return services.run_execute(run=run)


def test_start_form_shows_an_estimate_and_starts_a_run(
    project: Any,
    members: dict[str, Any],
    objects: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = _client(members["author"])
    page = client.get(f"/p/{project.slug}/runs/new/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Offline demo (demo/test judge)" in html
    assert f'value="rs:{objects["reference_set"].pk}"' in html

    form = {
        "rubric_version": objects["version"].pk,
        "judge": objects["judge"].pk,
        "target": f"rs:{objects['reference_set'].pk}",
        "use_cache": "on",
    }
    estimate = client.get(f"/p/{project.slug}/runs/new/estimate/", form, **HTMX)
    assert estimate.status_code == 200
    text = estimate.content.decode()
    assert "data-estimate-judgments>24<" in text and "demo/test judge" in text
    assert "<html" not in text  # a partial

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/p/{project.slug}/runs/new/", form)
    run = JudgingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/p/{project.slug}/runs/{run.pk}/"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.created_by == members["author"]


def test_start_form_reports_errors(
    project: Any, members: dict[str, Any], objects: dict[str, Any]
) -> None:
    client = _client(members["author"])
    response = client.post(
        f"/p/{project.slug}/runs/new/",
        {"rubric_version": objects["version"].pk, "judge": objects["judge"].pk, "target": "rs:0"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not JudgingRun.objects.exists()


def test_run_page_polls_until_the_end_then_shows_accuracy_and_pairs(
    project: Any, members: dict[str, Any], objects: dict[str, Any]
) -> None:
    client = _client(members["viewer"])
    queued = services.run_start(
        actor=None,
        rubric_version=objects["version"],
        judge=objects["judge"],
        reference_set=objects["reference_set"],
        dispatch=False,
    )
    html = client.get(f"/p/{project.slug}/runs/{queued.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html and "0 / 24 judgments" in html
    assert "Accuracy against the gold labels" not in html
    assert "Cancel run" not in html  # viewers cannot cancel
    poll = client.get(f"/p/{project.slug}/runs/{queued.pk}/progress/", **HTMX)
    assert poll.status_code == 200 and poll["Cache-Control"] == "no-store"

    services.run_execute(run=queued)
    done = client.get(f"/p/{project.slug}/runs/{queued.pk}/progress/", **HTMX)
    assert done.status_code == 286  # htmx stops polling
    assert done["HX-Refresh"] == "true"
    assert 'hx-trigger="every 1s"' not in done.content.decode()

    page = client.get(f"/p/{project.slug}/runs/{queued.pk}/").content.decode()
    assert "100%" in page and "Accuracy against the gold labels" in page
    assert 'data-domain="harmlessness"' in page and 'data-domain="helpfulness"' in page
    assert "demo/test judge" in page
    assert page.count("<tr>") >= 12  # the pairs table

    only = client.get(
        f"/p/{project.slug}/runs/{queued.pk}/", {"domain": "harmlessness"}, **HTMX
    ).content.decode()
    assert 'id="run-pairs"' in only and "<html" not in only
    assert "helpfulness" not in only and "harmlessness" in only


def test_cancel_from_the_page(
    project: Any, members: dict[str, Any], objects: dict[str, Any]
) -> None:
    run = services.run_start(
        actor=None,
        rubric_version=objects["version"],
        judge=objects["judge"],
        reference_set=objects["reference_set"],
        dispatch=False,
    )
    client = _client(members["author"])
    assert "Cancel run" in client.get(f"/p/{project.slug}/runs/{run.pk}/").content.decode()
    response = client.post(f"/p/{project.slug}/runs/{run.pk}/cancel/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    again = client.post(f"/p/{project.slug}/runs/{run.pk}/cancel/", follow=True)
    assert "already ended" in again.content.decode()


def test_run_list_and_other_projects(
    project: Any, other_project: Any, members: dict[str, Any], objects: dict[str, Any]
) -> None:
    run = _finished_run(objects)
    client = _client(members["viewer"])
    html = client.get(f"/p/{project.slug}/runs/").content.decode()
    assert f"#{run.pk}" in html and "demo/test judge" in html and "Succeeded" in html
    assert "Start a run" not in html
    assert f"#{run.pk}" not in client.get(f"/p/{project.slug}/runs/?status=failed").content.decode()
    # An id of this project under another project's URL is not found.
    other = _client(members["admin"])
    assert other.get(f"/p/{other_project.slug}/runs/{run.pk}/").status_code == 404


def test_judge_pages(
    project: Any, members: dict[str, Any], objects: dict[str, Any], settings: Any
) -> None:
    settings.RUBRICSTUDIO_JUDGE_KEYS = {"JUDGE_KEY": ("http://127.0.0.1:8000/v1",)}
    client = _client(members["author"])
    listing = client.get(f"/p/{project.slug}/runs/judges/").content.decode()
    assert "Offline demo" in listing and "demo/test judge" in listing
    form = {
        "name": "Hosted",
        "backend": "openai",
        "model": "judge-model",
        "base_url": "http://127.0.0.1:8000/v1",
        "api_key_env": "JUDGE_KEY",
        "params": '{"temperature": 0}',
        "concurrency": 8,
        "price_in": "1.5",
        "price_out": "",
    }
    response = client.post(f"/p/{project.slug}/runs/judges/new/", form)
    assert response.status_code == 302
    judge = JudgeConfig.objects.get(name="Hosted")
    assert judge.api_key_env == "JUDGE_KEY" and judge.params == {"temperature": 0}
    bad = client.post(
        f"/p/{project.slug}/runs/judges/new/",
        {**form, "name": "Bad", "api_key_env": "sk-abc", "params": "[1]"},
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "never a key" in html and "A JSON object" in html
    assert not JudgeConfig.objects.filter(name="Bad").exists()
    assert _client(members["viewer"]).get(f"/p/{project.slug}/runs/judges/new/").status_code == 403


def test_dashboard_card_and_admin_pages(
    project: Any, members: dict[str, Any], objects: dict[str, Any], make_user: Any
) -> None:
    run = _finished_run(objects)
    card = _client(members["viewer"]).get(f"/p/{project.slug}/").content.decode()
    assert "Judging runs" in card and f"run #{run.pk}" in card
    assert (
        "Judging runs"
        not in _client(members["annotator"]).get(f"/p/{project.slug}/").content.decode()
    )
    root = _client(make_user("root", superuser=True))
    assert root.get("/admin/judging/judgingrun/").status_code == 200
    assert root.get(f"/admin/judging/judgingrun/{run.pk}/change/").status_code == 200
    assert root.get("/admin/judging/judgeconfig/").status_code == 200
