"""The folders the embedded default needs (SQLite file, filesystem broker), made at start-up.

Settings only say where things live; creating them is start-up work, done once by
``CoreConfig.ready()`` in every process (web, worker, management command) before the first
database connection or broker message.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

BROKER_FOLDER_OPTIONS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def embedded_folders_create() -> None:
    """Create the SQLite database's folder and the filesystem broker's folders when in use."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) != ":memory:":
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in BROKER_FOLDER_OPTIONS:
            if options.get(key):
                Path(options[key]).mkdir(parents=True, exist_ok=True)
