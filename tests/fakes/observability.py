"""Tiny real HTTP servers speaking the Prometheus and Loki query APIs, scripted per test.

They let the real clients (``prometheus-api-client``, ``httpx``) run against answers a test
controls, including the failures that are hard to get from a real server on demand: a parse error,
a server that never answers (timeout), and a closed port (unreachable)::

    with FakeBackend() as prom:
        prom.route("/api/v1/query", vector([({"service": "api"}, 0.2)]))
        deps = Deps(prometheus_url=prom.url, ...)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Answer = tuple[int, Any]  # (status, JSON body or raw text)
Handler = Callable[[dict[str, list[str]]], Answer]


def ok(data: Any) -> Answer:
    return 200, {"status": "success", "data": data}


def vector(series: list[tuple[dict[str, str], float]], ts: float = 1_700_000_000.0) -> Answer:
    return ok({"resultType": "vector", "result": [{"metric": m, "value": [ts, str(v)]} for m, v in series]})


def matrix(
    series: list[tuple[dict[str, str], list[float]]], start: float = 1_700_000_000.0, step: float = 15.0
) -> Answer:
    result = [
        {"metric": m, "values": [[start + i * step, str(v)] for i, v in enumerate(vals)]}
        for m, vals in series
    ]
    return ok({"resultType": "matrix", "result": result})


def bad_query(message: str) -> Answer:
    return 400, {"status": "error", "errorType": "bad_data", "error": message}


def streams(entries: list[tuple[dict[str, str], list[tuple[int, str]]]]) -> Answer:
    result = [
        {"stream": labels, "values": [[str(ts), line] for ts, line in lines]} for labels, lines in entries
    ]
    return ok({"resultType": "streams", "result": result})


@dataclass
class FakeBackend:
    """A scripted HTTP backend: ``route(path, answer_or_handler)``; unknown paths answer 404."""

    routes: dict[str, Answer | Handler] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    delay_s: float = 0.0

    def __enter__(self) -> FakeBackend:
        backend = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                self._answer(parse_qs(body))

            def _answer(self, extra: dict[str, list[str]] | None = None) -> None:
                parsed = urlparse(self.path)
                params = {**parse_qs(parsed.query), **(extra or {})}
                backend.requests.append((parsed.path, params))
                if backend.delay_s:
                    time.sleep(backend.delay_s)
                route = backend.routes.get(parsed.path)
                status, body = (
                    (404, "404 page not found")
                    if route is None
                    else (route(params) if callable(route) else route)
                )
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header(
                        "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
                    )
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, path: str, answer: Answer | Handler) -> None:
        self.routes[path] = answer


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
