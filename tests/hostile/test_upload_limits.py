"""A huge upload is refused from its headers, before its body is read into memory or disk."""

from __future__ import annotations

import io
import tracemalloc
from typing import Any

import pytest
from django.core.wsgi import get_wsgi_application
from django.test import override_settings


class CountingBody(io.RawIOBase):
    """A 200 MB request body that is produced lazily and counts what the server reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


@pytest.mark.django_db
def test_a_200_mb_upload_is_refused_before_its_body_is_read() -> None:
    body = CountingBody(200 * 1024 * 1024)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/datasets/1/import/",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(body),
        "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
        "CONTENT_LENGTH": str(body.size),
        "HTTP_HOST": "127.0.0.1",
    }
    statuses: list[str] = []
    tracemalloc.start()
    response = get_wsgi_application()(environ, lambda status, headers: statuses.append(status))
    content = b"".join(response)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"declared 200 MB: answered {statuses[0]!r} after reading {body.read_bytes} body bytes; "
        f"peak traced memory {peak / 1e6:.1f} MB"
    )
    assert statuses[0].startswith("413")
    assert b"limit is" in content
    assert body.read_bytes == 0
    assert peak < 20 * 1024 * 1024


@pytest.mark.django_db
@override_settings(RUBRICSTUDIO_MAX_UPLOAD_BYTES=1000)
def test_the_limit_is_a_setting_and_the_error_is_json(client: Any) -> None:
    response = client.post("/api/projects/", data="x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]
