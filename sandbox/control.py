"""The sandbox's control API: the few inputs that are not Kubernetes objects, and ground truth.

Served by the sandbox process (``python -m sandbox.server``) on loopback, JSON in and out:

- ``GET /health`` — ``{"healthy": bool, "parts": {...}}``
- ``GET /traffic`` — the active surges; ``POST /traffic/surge`` (``namespace``, ``service``,
  ``route``, ``multiplier``, ``client``, ``duration_s``); ``POST /traffic/clear``
  (optional ``namespace``, ``service``)
- ``GET /faults`` — the fault catalog with ground truth
- ``GET /faults/active`` — what was injected (with undo recipes); ``POST /faults/active`` records one
  injection; ``DELETE /faults/active`` forgets them all (after a heal). Persisted to
  ``DIR/injected.json`` so a heal works even from another process.
- ``POST /plant`` — put arbitrary text in a service's log stream, an event, an annotation or a
  ConfigMap (``sandbox.plant``; prompt-injection scenarios)
- ``POST /reset`` — back to the seeded state (objects re-applied from the seed, surges cleared)

Faults themselves are never applied here: they go through the Kubernetes API (``sandbox.faults``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.traffic.control import TrafficControl

log = logging.getLogger(__name__)

Json = dict[str, Any]


class ActiveFaults:
    """The injected faults, in memory and in a JSON file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def list(self) -> list[Json]:
        """Every recorded injection, oldest first."""
        with self._lock:
            return self._read()

    def add(self, record: Json) -> None:
        """Record one injection."""
        with self._lock:
            items = self._read()
            items.append(record)
            self._write(items)

    def clear(self) -> int:
        """Forget every injection; returns how many there were."""
        with self._lock:
            n = len(self._read())
            self._write([])
            return n

    def _read(self) -> list[Json]:
        if not self._path.exists():
            return []
        data = json.loads(self._path.read_text() or "[]")
        return list(data) if isinstance(data, list) else []

    def _write(self, items: list[Json]) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(items, indent=2))
        tmp.replace(self._path)


@dataclass
class ControlHandlers:
    """What the control API drives; the sandbox server wires these to its parts."""

    traffic: TrafficControl
    active: ActiveFaults
    health: Callable[[], Json]
    reset: Callable[[], Json]
    catalog: Callable[[], list[Json]] = field(default=lambda: [])
    plant: Callable[[Json], Json] | None = None  # sandbox.plant.plant_text over the world


class ControlServer(ThreadingHTTPServer):
    """The HTTP server; ``url`` and ``shutdown()`` like the other sandbox servers."""

    daemon_threads = True

    def __init__(self, host: str, port: int, handlers: ControlHandlers) -> None:
        super().__init__((host, port), _Handler)
        self.handlers = handlers

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}"


def start_control(handlers: ControlHandlers, host: str = "127.0.0.1", port: int = 0) -> ControlServer:
    """Start the control API in a background thread."""
    server = ControlServer(host, port, handlers)
    threading.Thread(target=server.serve_forever, name="sandbox-control", daemon=True).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    server: ControlServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        h = self.server.handlers
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        routes: dict[tuple[str, str], Callable[[Json], tuple[int, Any]]] = {
            ("GET", "/health"): lambda _: _health(h),
            ("GET", "/traffic"): lambda _: (200, h.traffic.state()),
            ("POST", "/traffic/surge"): lambda body: _surge(h, body),
            ("POST", "/traffic/clear"): lambda body: (200, _clear(h, body)),
            ("GET", "/faults"): lambda _: (200, h.catalog()),
            ("GET", "/faults/active"): lambda _: (200, h.active.list()),
            ("POST", "/faults/active"): lambda body: (201, _record(h, body)),
            ("DELETE", "/faults/active"): lambda _: (200, {"cleared": h.active.clear()}),
            ("POST", "/reset"): lambda _: (200, h.reset()),
            ("POST", "/plant"): lambda body: _plant(h, body),
        }
        route = routes.get((method, path))
        if route is None:
            known = ", ".join(f"{m} {p}" for m, p in routes)
            self._send(404, {"error": f"no such endpoint: {method} {path}; known: {known}"})
            return
        try:
            status, payload = route(self._body())
        except (ValueError, KeyError, TypeError) as exc:
            status, payload = 400, {"error": f"bad request to {method} {path}: {exc}"}
        except Exception as exc:  # the control API must answer, whatever broke behind it
            log.exception("control API %s %s failed", method, path)
            status, payload = 500, {"error": f"{method} {path} failed: {type(exc).__name__}: {exc}"}
        self._send(status, payload)

    def _body(self) -> Json:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        data = json.loads(self.rfile.read(length) or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _health(h: ControlHandlers) -> tuple[int, Json]:
    report = h.health()
    return (200 if report.get("healthy") else 503), report


def _surge(h: ControlHandlers, body: Json) -> tuple[int, Json]:
    surge = h.traffic.set_surge(
        namespace=str(body.get("namespace") or "market-predictor"),
        service=str(body["service"]),
        route=body.get("route"),
        multiplier=float(body.get("multiplier", 4.0)),
        client=body.get("client"),
        duration_s=None if body.get("duration_s") is None else float(body["duration_s"]),
    )
    return 200, {"surge": surge.__dict__, **h.traffic.state()}


def _clear(h: ControlHandlers, body: Json) -> Json:
    removed = h.traffic.clear(namespace=body.get("namespace"), service=body.get("service"))
    return {"removed": removed, **h.traffic.state()}


def _record(h: ControlHandlers, body: Json) -> Json:
    if "fault" not in body:
        raise ValueError("an injection record needs a 'fault' field")
    h.active.add(body)
    return {"recorded": body["fault"]}


def _plant(h: ControlHandlers, body: Json) -> tuple[int, Any]:
    """``POST /plant`` (``where``: log|event|annotation|configmap, ``namespace``, ``target``, ``text``,
    optional ``count``): put arbitrary text in the world (prompt-injection scenarios)."""
    if h.plant is None:
        return 404, {"error": "this sandbox cannot plant text (no plant handler)"}
    try:
        return 201, h.plant(body)
    except (ValueError, KeyError, TypeError) as exc:
        return 400, {"error": f"cannot plant text: {exc}"}


class ControlClient:
    """A client for the control API (the CLI, the fault injector and the tests use it)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Json | None = None) -> Any:
        import httpx

        try:
            resp = httpx.request(method, f"{self.url}{path}", json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ConnectionError(
                f"the sandbox control API at {self.url} did not answer ({exc}); is the sandbox running? "
                "Check `devops-agent sandbox status`."
            ) from exc
        if resp.status_code >= 400 and not (path == "/health" and resp.status_code == 503):
            raise RuntimeError(
                f"{method} {path} on the sandbox control API failed ({resp.status_code}): {resp.text}"
            )
        return resp.json()

    def health(self) -> Json:
        return dict(self._call("GET", "/health"))

    def plant(self, where: str, namespace: str, target: str, text: str, count: int = 1) -> Json:
        """Plant text in the world (see :mod:`sandbox.plant`)."""
        body = {"where": where, "namespace": namespace, "target": target, "text": text, "count": count}
        return dict(self._call("POST", "/plant", body))

    def traffic(self) -> Json:
        return dict(self._call("GET", "/traffic"))

    def surge(
        self,
        service: str,
        multiplier: float,
        *,
        namespace: str = "market-predictor",
        route: str | None = None,
        client: str | None = None,
        duration_s: float | None = None,
    ) -> Json:
        body = {
            "namespace": namespace,
            "service": service,
            "multiplier": multiplier,
            "route": route,
            "client": client,
            "duration_s": duration_s,
        }
        return dict(self._call("POST", "/traffic/surge", body))

    def clear_traffic(self, namespace: str | None = None, service: str | None = None) -> Json:
        return dict(self._call("POST", "/traffic/clear", {"namespace": namespace, "service": service}))

    def active_faults(self) -> list[Json]:
        return list(self._call("GET", "/faults/active"))

    def record_fault(self, record: Json) -> None:
        self._call("POST", "/faults/active", record)

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "/faults/active")["cleared"])

    def reset(self) -> Json:
        return dict(self._call("POST", "/reset"))
