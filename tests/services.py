"""Run a command with DATABASE_URL/REDIS_URL pointing at local PostgreSQL and Redis if they answer.

``python -m tests.services -- pytest ...``: variables already set are kept; a service that does
not answer on its usual port is left out, and the suite falls back to SQLite or the filesystem
broker (the pytest header says which it used).
"""

from __future__ import annotations

import os
import socket
import sys

DEFAULTS = {
    "DATABASE_URL": ("127.0.0.1", 5432, "postgres://postgres@127.0.0.1:5432/rubricstudio"),
    "REDIS_URL": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str]) -> None:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    env = dict(os.environ)
    for name, (host, port, url) in DEFAULTS.items():
        if name not in env and _answers(host, port):
            env[name] = url
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
