"""A loopback HTTP proxy in front of a backend that fails on cue: answer a status (500, 429), delay
the answer past the client's timeout (after forwarding, so the backend did act), or drop the
connection. Rules match on method and a regular expression over the path and query::

    with FaultProxy(kube.url) as proxy:
        proxy.fail("PATCH", r"/deployments/predictor(?!.*dryRun)", status=500, times=1)
        proxy.fail("PATCH", r"/deployments/", delay_s=5, forward=True)   # applied, answer too late
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    status: int | None = None
    delay_s: float = 0.0
    forward: bool = False  # send the request upstream first (the backend acts), then misbehave
    drop: bool = False
    times: int | None = None  # None: every match
    hits: int = 0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[Rule] = []
        self.seen: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, method: str, path: str, **kw: Any) -> Rule:
        rule = Rule(method.upper(), re.compile(path), **kw)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if (
                    rule.method in (method, "*")
                    and rule.path.search(path)
                    and (rule.times is None or rule.hits < rule.times)
                ):
                    rule.hits += 1
                    return rule
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "accept-encoding")
                }
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=body or None, method=self.command, headers=headers
                )
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        return resp.status, dict(resp.headers.items()), resp.read()
                except urllib.error.HTTPError as exc:
                    return exc.code, dict(exc.headers.items()), exc.read()

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rule = proxy._match(self.command, self.path)
                if rule is None:
                    status, headers, data = self._forward(body)
                    proxy.seen.append((self.command, self.path, status))
                    self._send(status, headers, data)
                    return
                if rule.forward:
                    status, headers, data = self._forward(body)
                else:
                    status, headers, data = 0, {"Content-Type": "application/json"}, b""
                if rule.delay_s:
                    time.sleep(rule.delay_s)
                if rule.drop:
                    proxy.seen.append((self.command, self.path, -1))
                    self.close_connection = True
                    return
                if rule.status is not None:
                    status = rule.status
                    data = (
                        b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the fault proxy",'
                        b'"reason":"InternalError","code":%d}' % status
                    )
                    headers = {
                        "Content-Type": "application/json",
                        **({"Retry-After": "0"} if status == 429 else {}),
                    }
                proxy.seen.append((self.command, self.path, status))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self._send(status, headers, data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        return Handler
