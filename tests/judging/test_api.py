"""The judging API: judges (no keys), runs (202 at once), cancel, judgments."""

from __future__ import annotations

from typing import Any

import pytest

from apps.judging import services
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from tests.factories import make_judge, make_reference_set, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(project: Any, members: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": make_version(project),
        "reference_set": make_reference_set(project, n_pairs=12),
        "judge": make_judge(project, name="Offline demo"),
    }


def test_judges_list_marks_the_demo_judge_and_hides_from_annotators(
    api_client_for: Any, members: dict[str, Any], setup: dict[str, Any], other_project: Any
) -> None:
    make_judge(other_project, name="Elsewhere")
    response = api_client_for(members["viewer"]).get("/api/judges/")
    assert response.status_code == 200
    (judge,) = response.json()["results"]
    assert judge["name"] == "Offline demo" and judge["is_demo"]
    assert judge["display_name"] == "Offline demo (demo/test judge)"
    assert api_client_for(members["annotator"]).get("/api/judges/").status_code == 403


def test_judge_create_takes_a_variable_name_never_a_key(
    api_client_for: Any, members: dict[str, Any], project: Any, settings: Any
) -> None:
    settings.RUBRICSTUDIO_JUDGE_KEYS = {"JUDGE_API_KEY": ("http://127.0.0.1:9/v1",)}
    client = api_client_for(members["author"])
    body = {
        "project": project.pk,
        "name": "Hosted",
        "backend": "openai",
        "model": "gpt-judge",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key_env": "JUDGE_API_KEY",
        "params": {"temperature": 0, "max_tokens": 16},
        "price_in": "2.5",
        "price_out": "10",
    }
    response = client.post("/api/judges/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["api_key_env"] == "JUDGE_API_KEY"
    assert not response.json()["is_demo"]

    with_key = client.post(
        "/api/judges/", {**body, "name": "Leaky", "api_key": "sk-secret"}, format="json"
    )
    assert with_key.status_code == 400 and "api_key" in with_key.json()
    key_as_name = client.post(
        "/api/judges/", {**body, "name": "Leaky", "api_key_env": "sk-secret"}, format="json"
    )
    assert key_as_name.status_code == 400 and "api_key_env" in key_as_name.json()
    key_in_params = client.post(
        "/api/judges/", {**body, "name": "Leaky", "params": {"api_key": "x"}}, format="json"
    )
    assert key_in_params.status_code == 400 and "params" in key_in_params.json()
    duplicate = client.post("/api/judges/", body, format="json")
    assert duplicate.status_code == 400 and "name" in duplicate.json()
    assert not JudgeConfig.objects.filter(name="Leaky").exists()
    assert "sk-secret" not in str(client.get("/api/judges/").content)
    viewer = api_client_for(members["viewer"]).post(
        "/api/judges/", {**body, "name": "V"}, format="json"
    )
    assert viewer.status_code == 403


def test_run_start_answers_202_at_once_and_the_run_can_be_followed(
    api_client_for: Any,
    members: dict[str, Any],
    setup: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = api_client_for(members["author"])
    body = {
        "rubric_version": setup["version"].pk,
        "judge": setup["judge"].pk,
        "reference_set": setup["reference_set"].pk,
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/runs/", body, format="json")
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["status"] == "queued" and data["total"] == 24
    assert data["url"] == f"/api/runs/{data['id']}/"
    assert len(callbacks) == 1  # dispatch waits for the commit
    for callback in callbacks:
        callback()  # the commit: eager chunks run now

    detail = client.get(data["url"]).json()
    assert detail["status"] == "succeeded"
    assert (detail["done"], detail["total"], detail["failed"]) == (24, 24, 0)
    for field in ("cached", "tokens_in", "tokens_out", "cost", "rubric_version", "judge"):
        assert field in detail
    accuracy = detail["accuracy"]
    assert accuracy["overall"]["n"] == 12
    assert set(accuracy["by_domain"]) == {"helpfulness", "harmlessness"}
    for key in (
        "accuracy",
        "ci_low",
        "ci_high",
        "tie_rate",
        "invalid_rate",
        "position_consistency",
    ):
        assert key in accuracy["overall"]
    listed = client.get("/api/runs/?status=succeeded").json()["results"]
    assert [r["id"] for r in listed] == [data["id"]]
    assert client.get("/api/runs/?status=running").json()["results"] == []


def test_run_start_refuses_bad_bodies_and_other_projects(
    api_client_for: Any,
    members: dict[str, Any],
    setup: dict[str, Any],
    other_project: Any,
) -> None:
    client = api_client_for(members["author"])
    base = {"rubric_version": setup["version"].pk, "judge": setup["judge"].pk}
    assert client.post("/api/runs/", base, format="json").status_code == 400
    both = {**base, "reference_set": setup["reference_set"].pk, "dataset": 1}
    assert client.post("/api/runs/", both, format="json").status_code == 400
    foreign = make_reference_set(other_project, n_pairs=2)
    refused = client.post("/api/runs/", {**base, "reference_set": foreign.pk}, format="json")
    assert refused.status_code == 400 and "reference_set" in refused.json()
    draft = make_version(setup["version"].rubric.project, published=False)
    unpublished = client.post(
        "/api/runs/",
        {**base, "rubric_version": draft.pk, "reference_set": setup["reference_set"].pk},
        format="json",
    )
    assert unpublished.status_code == 400 and "published" in str(unpublished.json())
    viewer = api_client_for(members["viewer"]).post(
        "/api/runs/", {**base, "reference_set": setup["reference_set"].pk}, format="json"
    )
    assert viewer.status_code == 403
    assert not JudgingRun.objects.exists()


def test_cancel_then_cancel_again_is_a_conflict(
    api_client_for: Any, members: dict[str, Any], setup: dict[str, Any]
) -> None:
    run = services.run_start(
        actor=None,
        rubric_version=setup["version"],
        judge=setup["judge"],
        reference_set=setup["reference_set"],
        dispatch=False,
    )
    client = api_client_for(members["author"])
    assert api_client_for(members["viewer"]).post(f"/api/runs/{run.pk}/cancel/").status_code == 403
    response = client.post(f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = client.post(f"/api/runs/{run.pk}/cancel/")
    assert again.status_code == 409
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_judgments_are_paginated_and_filterable(
    api_client_for: Any, members: dict[str, Any], setup: dict[str, Any], project: Any
) -> None:
    run = services.run_execute(
        run=services.run_start(
            actor=None,
            rubric_version=setup["version"],
            judge=setup["judge"],
            reference_set=make_reference_set(project, n_pairs=30, name="thirty"),
            dispatch=False,
        )
    )
    client = api_client_for(members["viewer"])
    page = client.get(f"/api/runs/{run.pk}/judgments/").json()
    assert page["count"] == 60 and len(page["results"]) == 50 and page["next"]
    second = client.get(page["next"]).json()
    assert len(second["results"]) == 10
    ids = [j["id"] for j in page["results"] + second["results"]]
    assert len(set(ids)) == 60
    first = page["results"][0]
    for field in (
        "id",
        "run",
        "pair",
        "order",
        "verdict",
        "p_first",
        "rationale",
        "criteria",
        "tokens_in",
        "tokens_out",
        "latency_ms",
        "attempts",
        "error",
        "cached",
    ):
        assert field in first
    assert first["domain"] in ("helpfulness", "harmlessness")
    ab = client.get(f"/api/runs/{run.pk}/judgments/?order=AB").json()
    assert ab["count"] == 30 and {j["order"] for j in ab["results"]} == {"AB"}
    verdict = first["verdict"]
    same = client.get(f"/api/runs/{run.pk}/judgments/?verdict={verdict}").json()
    assert same["count"] >= 1 and {j["verdict"] for j in same["results"]} == {verdict}
    done = client.get(f"/api/runs/{run.pk}/judgments/?status=done").json()
    assert done["count"] == 60
    assert client.get(f"/api/runs/{run.pk}/judgments/?order=XY").status_code == 400
    # Another project's run does not exist for this caller.
    assert api_client_for(members["outsider"]).get(f"/api/runs/{run.pk}/").status_code == 404
    assert api_client_for(members["annotator"]).get(f"/api/runs/{run.pk}/").status_code == 403
