"""Settings come from the environment: embedded default, PostgreSQL/Redis, production refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "broker": settings.CELERY_BROKER_URL,
    "embedded": settings.EMBEDDED, "debug": settings.DEBUG,
    "cache": settings.CACHES["default"]["BACKEND"],
    "init": db.get("OPTIONS", {}).get("init_command", ""),
}))
"""


def _settings_with(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "DEBUG",
            "RUBRICSTUDIO_PRODUCTION",
            "RUBRICSTUDIO_TEST_SQLITE",
        }
    }
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "rubricstudio.settings",
            "RUBRICSTUDIO_DATA_DIR": str(tmp_path / "var"),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_is_sqlite_in_wal_mode_with_a_filesystem_broker(tmp_path: Path) -> None:
    result = _settings_with({}, tmp_path)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["engine"] == "django.db.backends.sqlite3"
    assert probe["name"].startswith(str(tmp_path))
    assert "journal_mode=WAL" in probe["init"]
    assert probe["broker"] == "filesystem://"
    assert probe["embedded"] is True
    assert (tmp_path / "var" / "broker" / "out").is_dir()


def test_database_and_redis_urls_select_postgresql_and_redis(tmp_path: Path) -> None:
    result = _settings_with(
        {
            "DATABASE_URL": "postgres://someone@db.example:5432/studio",
            "REDIS_URL": "redis://cache.example:6379/2",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["engine"] == "django.db.backends.postgresql"
    assert probe["name"] == "studio"
    assert probe["broker"] == "redis://cache.example:6379/2"
    assert probe["cache"].endswith("RedisCache")
    assert probe["embedded"] is False


def test_production_refuses_debug(tmp_path: Path) -> None:
    result = _settings_with(
        {"RUBRICSTUDIO_PRODUCTION": "1", "DEBUG": "1", "SECRET_KEY": "x" * 50}, tmp_path
    )
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr


def test_production_refuses_a_missing_secret_key(tmp_path: Path) -> None:
    result = _settings_with({"RUBRICSTUDIO_PRODUCTION": "1"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_without_secret_key_is_refused_outside_production_too(tmp_path: Path) -> None:
    result = _settings_with({"DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_with_a_secret_key_starts_with_debug_off(tmp_path: Path) -> None:
    result = _settings_with({"RUBRICSTUDIO_PRODUCTION": "1", "SECRET_KEY": "k" * 50}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


def test_celery_configuration_follows_the_design() -> None:
    from django.conf import settings

    from apps.core.queues import Queue

    assert {q.value for q in Queue} == {"default", "api", "gpu"}
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        > settings.CELERY_TASK_TIME_LIMIT
    )
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= {q.value for q in Queue}


def test_a_stale_window_shorter_than_two_beats_is_refused(tmp_path: Path) -> None:
    result = _settings_with(
        {"LIVENESS_HEARTBEAT_S": "10", "LIVENESS_STALE_AFTER_S": "15"}, tmp_path
    )
    assert result.returncode != 0
    assert "LIVENESS_STALE_AFTER_S must be at least twice LIVENESS_HEARTBEAT_S" in result.stderr


def test_reading_settings_makes_no_folder_and_start_up_makes_the_embedded_ones(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "RUBRICSTUDIO_TEST_SQLITE"}
    }
    env.update(DJANGO_SETTINGS_MODULE="rubricstudio.settings", RUBRICSTUDIO_DATA_DIR=str(data_dir))
    read_only = "from django.conf import settings; print(settings.CELERY_BROKER_URL)"
    result = subprocess.run(
        [sys.executable, "-c", read_only], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert not data_dir.exists()

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    broker_folders = sorted(p.name for p in (data_dir / "broker").iterdir())
    assert broker_folders == ["control", "out", "processed"]
