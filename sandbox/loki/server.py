"""The Loki HTTP API stand-in, serving a :class:`~sandbox.logs.LogStore`.

Endpoints (GET, and POST with a form body where Loki accepts it):

- ``/loki/api/v1/query`` (``query``, ``time``, ``limit``, ``direction``)
- ``/loki/api/v1/query_range`` (``query``, ``start``, ``end``, ``since``, ``step``, ``limit``, ``direction``)
- ``/loki/api/v1/labels``, ``/loki/api/v1/label/<name>/values`` (``start``, ``end``, ``since``, ``query``)
- ``/loki/api/v1/series`` (``match[]``, ``start``, ``end``, ``since``)
- ``/loki/api/v1/push`` (JSON body), ``/loki/api/v1/status/buildinfo``, ``/ready``

Answers are Loki's JSON (``{"status": "success", "data": ...}``); refused queries get 400 with a
plain-text body, as Loki sends them. Bound to loopback on a free port unless told otherwise.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.logs import LogStore
from sandbox.loki import params
from sandbox.loki.engine import Engine
from sandbox.loki.errors import LokiError
from sandbox.loki.logql import parse_selector
from sandbox.loki.response import query_response

BUILD_INFO = {
    "version": "2.9.8-sandbox",
    "revision": "sandbox",
    "branch": "sandbox",
    "buildUser": "devops-agent",
    "buildDate": "",
    "goVersion": "",
}
_LABEL_VALUES = re.compile(r"^/loki/api/v1/label/([^/]+)/values$")
Handler = Callable[[params.Params], Any]


class LokiServer:
    """A running Loki stand-in: ``url``, ``port``, ``shutdown()``."""

    def __init__(self, store: LogStore, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self.engine = Engine(store)
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loki-api", daemon=True)

    def start(self) -> LokiServer:
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------ endpoints
    def route(self, path: str) -> Handler | None:
        """The handler for ``path``, or ``None`` (404)."""
        fixed: dict[str, Handler] = {
            "/loki/api/v1/query": self.query,
            "/loki/api/v1/query_range": self.query_range,
            "/loki/api/v1/labels": self.labels,
            "/loki/api/v1/label": self.labels,
            "/loki/api/v1/series": self.series,
            "/loki/api/v1/status/buildinfo": lambda _: BUILD_INFO,
        }
        if path in fixed:
            return fixed[path]
        m = _LABEL_VALUES.match(path)
        if m:
            name = unquote(m.group(1))
            return lambda p: self.label_values(name, p)
        return None

    def query(self, p: params.Params) -> dict[str, Any]:
        text = _required_query(p)
        ts = params.timestamp_ns(p, "time", time.time_ns())
        result = self.engine.instant(text, ts, limit=params.limit(p), direction=params.direction(p))
        return query_response(result)

    def query_range(self, p: params.Params) -> dict[str, Any]:
        text = _required_query(p)
        start, end = params.time_range(p)
        result = self.engine.range(
            text,
            start,
            end,
            params.step_ns(p, start, end),
            limit=params.limit(p),
            direction=params.direction(p),
        )
        return query_response(result)

    def labels(self, p: params.Params) -> dict[str, Any]:
        start, end = params.time_range(p)
        return {"status": "success", "data": self.store.label_names(start, end)}

    def label_values(self, name: str, p: params.Params) -> dict[str, Any]:
        start, end = params.time_range(p)
        selector = params.first(p, "query")
        matchers = parse_selector(selector) if selector else ()
        return {"status": "success", "data": self.store.label_values(name, start, end, matchers)}

    def series(self, p: params.Params) -> dict[str, Any]:
        selectors = p.get("match[]", []) + p.get("match", [])
        if not selectors:
            raise LokiError("at least one match[] argument must be provided")
        start, end = params.time_range(p)
        found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for selector in selectors:
            for labels in self.store.series(parse_selector(selector), start, end):
                found[tuple(sorted(labels.items()))] = labels
        return {"status": "success", "data": [found[k] for k in sorted(found)]}

    def push(self, body: bytes) -> None:
        """Loki's JSON push format: ``{"streams": [{"stream": {...}, "values": [["ns", "line"]]}]}``."""
        try:
            payload = json.loads(body or b"{}")
            for stream in payload.get("streams", []):
                labels = {str(k): str(v) for k, v in stream["stream"].items()}
                for value in stream.get("values", []):
                    self.store.append(labels, str(value[1]), int(value[0]))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise LokiError(f"invalid push payload ({exc}); expected Loki's JSON push format") from exc


def _required_query(p: params.Params) -> str:
    text = params.first(p, "query")
    if text is None:
        raise LokiError('query parameter is required: pass query=<LogQL>, e.g. query={app="api"}')
    return text


def start_loki(store: LogStore, host: str = "127.0.0.1", port: int = 0) -> LokiServer:
    """Serve ``store`` over Loki's HTTP API on a background thread; ``port=0`` picks a free port."""
    return LokiServer(store, host, port).start()


def _make_handler(server: LokiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "loki-sandbox"

        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._handle(self.rfile.read(length) if length else b"")

        def _handle(self, body: bytes) -> None:
            url = urlsplit(self.path)
            if url.path == "/ready":
                return self._send(200, b"ready\n", "text/plain; charset=utf-8")
            if url.path == "/loki/api/v1/push" and self.command == "POST":
                return self._call(lambda: server.push(body), no_content=True)
            handler = server.route(url.path)
            if handler is None:
                return self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            p = parse_qs(url.query, keep_blank_values=True)
            content_type = self.headers.get("Content-Type", "")
            if self.command == "POST" and "application/x-www-form-urlencoded" in content_type:
                for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
                    p.setdefault(key, []).extend(values)
            return self._call(lambda: handler(p))

        def _call(self, fn: Callable[[], Any], no_content: bool = False) -> None:
            try:
                payload = fn()
            except LokiError as exc:
                return self._send(400, (str(exc).rstrip("\n") + "\n").encode(), "text/plain; charset=utf-8")
            except Exception as exc:  # a bug here must not kill the server thread
                msg = f"internal error in the sandbox Loki stand-in: {exc.__class__.__name__}: {exc}\n"
                return self._send(500, msg.encode(), "text/plain; charset=utf-8")
            if no_content:
                return self._send(204, b"", None)
            data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
            return self._send(200, data, "application/json; charset=UTF-8")

        def _send(self, status: int, body: bytes, content_type: str | None) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
                self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence per-request logging; the sandbox has its own logs."""

    return Handler
