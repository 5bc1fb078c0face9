"""A loopback HTTP server that records every connection and request it receives.

It answers every POST like an OpenAI-compatible judge (verdict ``[[A]]``) and anything else
with 204, so the same server is a judge endpoint and a webhook receiver. Tests read
``connections`` (accepted TCP connections, whether or not a request followed) and
``requests`` (method, path, headers, body) to prove what reached it, and what never did.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Captured:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def raw(self) -> str:
        """Everything the client sent, as text (to search for secrets)."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.path}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


@dataclass
class CaptureServer:
    """The server's record; ``url`` is its base (``http://127.0.0.1:<port>``)."""

    url: str = ""
    connections: int = 0
    requests: list[Captured] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def everything(self) -> str:
        with self.lock:
            return "\n".join(r.raw() for r in self.requests)


_COMPLETION = {
    "id": "capture",
    "object": "chat.completion",
    "created": 0,
    "model": "capture",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "[[A]]"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}


@contextmanager
def capture_server(host: str = "127.0.0.1") -> Iterator[CaptureServer]:
    record = CaptureServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with record.lock:
                record.requests.append(
                    Captured(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
            return body

        def do_POST(self) -> None:
            self._record()
            answer = json.dumps(_COMPLETION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            self._record()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request: Any, client_address: Any) -> bool:
            with record.lock:
                record.connections += 1
            return True

    server = Server((host, 0), Handler)
    record.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
