"""One sandbox per test session, shared by every integration and end-to-end test.

Use the session fixture ``sandbox`` (mark the test ``@pytest.mark.sandbox``)::

    def test_something(sandbox):
        fault = sandbox.inject("bad-deploy")
        sandbox.wait_for_alert("ServiceHighErrorRate", timeout=90)
        ...
        sandbox.reset()

It starts the real thing (``sandbox.lifecycle.up``: the sandbox server, Prometheus, Alertmanager)
in a temporary dir, with Alertmanager sending every notification to a relay in this process:
``sandbox.notifications`` holds what arrived, and ``sandbox.forward_alerts_to(url)`` also passes
them on (e.g. to ``devops-agent serve``). The session stops every process at the end, and at exit
if the session crashes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from kubernetes import config as kube_config

from sandbox import faults, lifecycle
from sandbox.control import ControlClient
from sandbox.faults import Fault
from sandbox.lifecycle import SandboxError, SandboxState

T = TypeVar("T")


class AlertRelay(ThreadingHTTPServer):
    """Receives Alertmanager webhook notifications, keeps them, and forwards them to subscribers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        self.notifications: list[dict[str, Any]] = []
        self.subscribers: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, name="alert-relay", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/alerts"

    def deliver(self, body: bytes) -> None:
        with self.lock:
            self.notifications.append(json.loads(body))
            targets = list(self.subscribers)
        for url in targets:
            # a subscriber that is down misses the notification, as it would from Alertmanager
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=5)


class _RelayHandler(BaseHTTPRequestHandler):
    server: AlertRelay

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()
        self.server.deliver(body)


@dataclass
class Sandbox:
    """A running sandbox and the helpers tests use on it."""

    state: SandboxState
    relay: AlertRelay
    injected: list[Fault] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return Path(self.state.dir)

    @property
    def kubeconfig(self) -> str:
        return self.state.kubeconfig

    @property
    def prometheus_url(self) -> str:
        return self.state.prometheus_url

    @property
    def alertmanager_url(self) -> str:
        return self.state.alertmanager_url

    @property
    def loki_url(self) -> str:
        return self.state.loki_url

    @property
    def kube_url(self) -> str:
        return self.state.kube_url

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.state.control_url)

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Every Alertmanager webhook payload received so far."""
        with self.relay.lock:
            return list(self.relay.notifications)

    def env(self) -> dict[str, str]:
        """The ``DEVOPS_AGENT_*`` settings that point the agent at this sandbox."""
        return self.state.env()

    def api_client(self) -> Any:
        """A fresh official Kubernetes client for the sandbox."""
        return kube_config.new_client_from_config(config_file=self.kubeconfig)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl`` against the sandbox."""
        return subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    # --- faults -------------------------------------------------------------------------------
    def inject(self, fault: str, target: str | None = None) -> Fault:
        """Inject a catalog fault through the Kubernetes API; returns it with its ground truth."""
        spec = faults.get_fault(fault, target)
        faults.inject(self.api_client(), spec, self.control)
        self.injected.append(spec)
        return spec

    def heal(self) -> list[str]:
        """Undo every injected fault (through the Kubernetes API)."""
        control = self.control
        lines = faults.heal(self.api_client(), control.active_faults(), control)
        self.injected.clear()
        return lines

    def reset(self, wait: bool = True, timeout: float = 90) -> None:
        """Back to the seeded state; with ``wait``, until every deployment is available again."""
        self.control.reset()
        self.injected.clear()
        if wait:
            self.wait_until(
                lambda: self.control.health().get("platform_ready"), timeout, "the platform to recover"
            )

    def forward_alerts_to(self, url: str) -> Callable[[], None]:
        """Also send every Alertmanager notification to ``url``; returns a function that stops it."""
        with self.relay.lock:
            self.relay.subscribers.append(url)

        def stop() -> None:
            with self.relay.lock:
                if url in self.relay.subscribers:
                    self.relay.subscribers.remove(url)

        return stop

    # --- observing ----------------------------------------------------------------------------
    def prom_query(self, query: str) -> list[dict[str, Any]]:
        """Prometheus instant query; the ``result`` list."""
        resp = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
        resp.raise_for_status()
        return list(resp.json()["data"]["result"])

    def alerts(self, name: str | None = None, active_only: bool = True) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds now (``/api/v2/alerts``), optionally one alertname."""
        resp = httpx.get(
            f"{self.alertmanager_url}/api/v2/alerts", params={"active": str(active_only).lower()}, timeout=10
        )
        resp.raise_for_status()
        return [a for a in resp.json() if name is None or a["labels"].get("alertname") == name]

    def wait_for_alert(
        self, name: str, timeout: float = 90, since: float | None = None, **labels: str
    ) -> dict[str, Any]:
        """Wait until Alertmanager has alert ``name`` (with these labels); returns it.

        ``since`` (epoch seconds) ignores alerts that started before it, e.g. left over from an
        earlier fault.
        """

        def found() -> dict[str, Any] | None:
            for alert in self.alerts(name):
                if since is not None and _epoch(alert["startsAt"]) < since - 5:
                    continue
                if all(alert["labels"].get(k) == v for k, v in labels.items()):
                    return alert
            return None

        return self.wait_until(found, timeout, f"alert {name} {labels or ''} in Alertmanager")

    @property
    def relays_alerts(self) -> bool:
        """Whether Alertmanager sends to this session's relay (not when reusing a running sandbox)."""
        return self.state.alert_webhook == self.relay.url

    def wait_for_notification(
        self, name: str, timeout: float = 60, since: float | None = None
    ) -> dict[str, Any]:
        """Wait until a webhook notification with a firing alert ``name`` reached the relay."""

        def found() -> dict[str, Any] | None:
            for note in self.notifications:
                for alert in note.get("alerts", []):
                    if alert["labels"].get("alertname") != name or alert.get("status") != "firing":
                        continue
                    if since is None or _epoch(alert["startsAt"]) >= since - 5:
                        return note
            return None

        return self.wait_until(found, timeout, f"a webhook notification for {name}")

    def wait_until(self, fn: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
        """Poll ``fn`` until it returns something truthy; fail the test with ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = fn()
            except (httpx.HTTPError, ConnectionError) as exc:
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")

    def wait_end_state(self, fault: Fault, timeout: float = 90) -> str:
        """Wait until ``fault.check_end_state`` passes; returns its detail."""
        detail = ""

        def ok() -> bool:
            nonlocal detail
            passed, detail = fault.check_end_state(self.api_client(), self.prometheus_url)
            return passed

        self.wait_until(ok, timeout, f"the end state of {fault.name} to pass (last: {detail})", interval=2)
        return detail


def _epoch(rfc3339: str) -> float:
    """Alertmanager's timestamps (nanosecond precision, Z) as epoch seconds."""
    head = rfc3339.rstrip("Z").split(".")[0]
    return datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The session's sandbox (started on first use, stopped at the end of the session)."""
    try:
        lifecycle.find_binary("prometheus")
        lifecycle.find_binary("prometheus-alertmanager", "alertmanager")
    except SandboxError as exc:
        pytest.skip(str(exc))
    directory = Path(os.environ.get("SANDBOX_TEST_DIR") or tmp_path_factory.mktemp("sandbox"))
    relay = AlertRelay()
    atexit.register(lifecycle.down, directory)  # even if the session dies
    state = lifecycle.up(directory, alert_webhook=relay.url, timeout_s=120)
    try:
        yield Sandbox(state, relay)
    finally:
        lifecycle.down(directory)
        relay.shutdown()
