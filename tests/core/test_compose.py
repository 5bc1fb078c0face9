"""docker-compose.yml cannot run here (no Docker engine), so check that it agrees with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from apps.core.queues import Queue

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _queues(command: str) -> set[str]:
    words = command.split()
    return set(words[words.index("-Q") + 1].split(","))


def test_services_exist_with_health_checks_and_a_postgres_volume() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "worker-gpu", "beat"}
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert any("postgresql/data" in v for v in services["postgres"]["volumes"])


def test_workers_cover_every_queue_and_the_gpu_worker_takes_one_message_at_a_time() -> None:
    services = _compose()["services"]
    assert _queues(services["worker"]["command"]) == {Queue.DEFAULT, Queue.API}
    gpu = services["worker-gpu"]
    assert _queues(gpu["command"]) == {Queue.GPU}
    assert "--concurrency 1" in gpu["command"] and "--prefetch-multiplier 1" in gpu["command"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"
    covered = _queues(services["worker"]["command"]) | _queues(gpu["command"])
    assert covered == {q.value for q in Queue}


def test_django_services_share_the_anchor_and_the_settings_variables() -> None:
    services = _compose()["services"]
    settings_source = (REPO / "rubricstudio" / "settings.py").read_text()
    for name in ("web", "worker", "worker-gpu", "beat"):
        env = services[name]["environment"]
        for variable in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
            assert variable in env, (name, variable)
            assert f'"{variable}"' in settings_source, variable
        assert env["RUBRICSTUDIO_PRODUCTION"] == "1" and env["DEBUG"] == "0"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_web_migrates_on_start_and_serves_with_gunicorn() -> None:
    command = _compose()["services"]["web"]["command"]
    assert command.index("migrate") < command.index("gunicorn")
    assert "rubricstudio.wsgi:application" in command
    assert "beat" in _compose()["services"]["beat"]["command"]


EGRESS_VARIABLES = (
    "RUBRICSTUDIO_JUDGE_KEYS",
    "RUBRICSTUDIO_EGRESS_ALLOWLIST",
    "RUBRICSTUDIO_EGRESS_NETWORKS",
    "RUBRICSTUDIO_MODELS_DIR",
    "RUBRICSTUDIO_LOCAL_MODELS",
    "RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS",
    "RUBRICSTUDIO_LOCAL_DEVICE",
)


def test_the_operators_egress_settings_reach_every_django_service_and_are_documented() -> None:
    services = _compose()["services"]
    settings_source = (REPO / "rubricstudio" / "settings.py").read_text()
    readme = (REPO / "README.md").read_text()
    for variable in EGRESS_VARIABLES:
        assert f'"{variable}"' in settings_source, variable
        assert f"| `{variable}` |" in readme, variable
        for name in ("web", "worker", "worker-gpu", "beat"):
            assert variable in services[name]["environment"], (name, variable)
    env = services["worker"]["environment"]
    # The declared key is passed to the workers, and only for the endpoint declared with it.
    assert env["RUBRICSTUDIO_JUDGE_KEYS"].endswith("OPENAI_API_KEY=https://api.openai.com/v1}")
    assert "OPENAI_API_KEY" in env
    # Production: nothing non-public unless the operator lists it.
    assert env["RUBRICSTUDIO_EGRESS_NETWORKS"] == "${RUBRICSTUDIO_EGRESS_NETWORKS:-}"
    assert any(v.endswith(":/models:ro") for v in services["worker-gpu"]["volumes"])


def test_beat_and_workers_share_the_liveness_settings_and_beat_sweeps_with_them() -> None:
    from django.conf import settings

    services = _compose()["services"]
    settings_source = (REPO / "rubricstudio" / "settings.py").read_text()
    for variable in ("LIVENESS_HEARTBEAT_S", "LIVENESS_STALE_AFTER_S", "LIVENESS_SWEEP_S"):
        assert f'"{variable}"' in settings_source, variable
        for name in ("worker", "worker-gpu", "beat"):
            # The compose default is the settings' default.
            default = services[name]["environment"][variable].split(":-")[1].rstrip("}")
            assert float(default) == getattr(settings, variable), (name, variable)
    # One beat entry runs every app's sweep, and expires after its period.
    (entry,) = settings.CELERY_BEAT_SCHEDULE.values()
    assert entry["task"] == "core.sweep_stale_work"
    assert entry["schedule"] == entry["options"]["expires"] == settings.LIVENESS_SWEEP_S
    assert 15 <= settings.LIVENESS_SWEEP_S <= 30
    assert settings.LIVENESS_STALE_AFTER_S < 60
