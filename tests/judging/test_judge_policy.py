"""Local models come from the operator: trust_remote_code, locations and devices.

Uses the tiny random model the local backend's tests build (no download).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.judging import judge_policy, services
from apps.judging.models import JudgeConfig, RunStatus
from tests.factories import make_reference_set, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_models(settings: Any, tiny_model_dir: Path) -> str:
    """The operator's models directory holds the tiny model; its name is what authors pick."""
    settings.RUBRICSTUDIO_MODELS_DIR = str(tiny_model_dir.parent)
    settings.RUBRICSTUDIO_LOCAL_DEVICE = "cpu"
    return tiny_model_dir.name


def _create(api_client_for: Any, user: Any, project: Any, **body: Any) -> Any:
    return api_client_for(user).post(
        "/api/judges/",
        {"project": project.pk, "name": "Local", "backend": "local", **body},
        format="json",
    )


def test_trust_remote_code_from_an_author_is_refused_through_the_api_and_the_form(
    api_client_for: Any, members: dict[str, Any], project: Any, operator_models: str
) -> None:
    params = {"trust_remote_code": True, "dtype": "float32"}
    response = _create(
        api_client_for, members["author"], project, model=operator_models, params=params
    )
    assert response.status_code == 400
    assert "trust_remote_code" in response.json()["params"][0]
    client = Client()
    client.force_login(members["author"])
    page = client.post(
        f"/p/{project.slug}/runs/judges/new/",
        {
            "name": "Local",
            "backend": "local",
            "model": operator_models,
            "params": json.dumps(params),
            "concurrency": 1,
        },
    )
    assert page.status_code == 400
    assert "trust_remote_code" in str(page.context["form"].errors["params"])
    # Nor can the model be given as a path on the worker's disk.
    path = _create(api_client_for, members["author"], project, model=str(Path.cwd()))
    assert path.status_code == 400 and "model" in path.json()
    assert not JudgeConfig.objects.filter(name="Local").exists()


def test_trust_remote_code_from_the_operators_allowlist_is_used_to_load_the_model(
    api_client_for: Any,
    members: dict[str, Any],
    project: Any,
    operator_models: str,
    settings: Any,
    tiny_model_dir: Path,
) -> None:
    settings.RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS = [operator_models]
    response = _create(
        api_client_for,
        members["author"],
        project,
        model=operator_models,
        params={"dtype": "float32", "batch_size": 4},
    )
    assert response.status_code == 201, response.content
    judge = JudgeConfig.objects.get(pk=response.json()["id"])
    config = judge_policy.backend_config(judge)
    assert config.model == str(tiny_model_dir.resolve())
    assert config.params["trust_remote_code"] is True and config.params["device"] == "cpu"
    backend = services.judge_backend(judge)
    assert getattr(backend, "trust_remote_code", None) is True
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=judge,
        reference_set=make_reference_set(project, n_pairs=3),
        dispatch=False,
    )
    run = services.run_execute(run=run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.done, run.failed) == (6, 0)
    # Off the allowlist, the same model loads without remote code.
    settings.RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS = []
    assert judge_policy.backend_config(judge).params["trust_remote_code"] is False


def test_only_the_operators_models_are_offered_and_accepted(
    operator_models: str, settings: Any
) -> None:
    assert operator_models in judge_policy.local_model_choices()
    assert judge_policy.local_model_location("..") is None
    assert judge_policy.local_model_location(f"../{operator_models}") is None
    assert judge_policy.local_model_location("/etc") is None
    assert judge_policy.local_model_location("org/not-listed") is None
    settings.RUBRICSTUDIO_LOCAL_MODELS = ["org/listed-judge"]
    assert judge_policy.local_model_location("org/listed-judge") == "org/listed-judge"
