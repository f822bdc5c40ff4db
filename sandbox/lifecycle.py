"""Start, inspect and stop the whole sandbox: the sandbox server, Prometheus and Alertmanager.

``up(dir)`` starts the three processes in the background (their own sessions, so they outlive the
CLI), waits until each is healthy and writes ``DIR/state.json`` (pids, ports, URLs). ``down(dir)``
stops every process listed there by pid — SIGTERM, then SIGKILL after a grace period — and is
idempotent. ``status(dir)`` reports what runs and whether it is healthy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sandbox import prom
from sandbox.desired import MANIFESTS_DIR
from sandbox.procs import (
    EXPECT,
    HOST,
    INSTALL_HINT,
    SandboxError,
    find_binary,
    free_port,
    pid_alive,
    spawn,
    stop_pid,
    tail,
)

__all__ = [
    "INSTALL_HINT",
    "SandboxError",
    "SandboxState",
    "down",
    "find_binary",
    "free_port",
    "pid_alive",
    "require_state",
    "status",
    "up",
]

DEFAULT_DIR = Path(".sandbox")
Progress = Callable[[str], None]


@dataclass
class SandboxState:
    """What ``sandbox up`` started; persisted as ``DIR/state.json``."""

    dir: str
    kubeconfig: str
    prometheus_url: str
    alertmanager_url: str
    loki_url: str
    kube_url: str
    control_url: str
    metrics_url: str
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    alert_webhook: str | None = None
    started_at: float = 0.0

    def save(self) -> None:
        """Write ``state.json`` atomically."""
        path = Path(self.dir) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, directory: Path) -> SandboxState | None:
        """The saved state of the sandbox in ``directory``, or None when it was never started."""
        path = directory / "state.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    def env(self) -> dict[str, str]:
        """The settings that point the agent at this sandbox."""
        return {
            "DEVOPS_AGENT_KUBECONFIG": self.kubeconfig,
            "DEVOPS_AGENT_PROMETHEUS_URL": self.prometheus_url,
            "DEVOPS_AGENT_LOKI_URL": self.loki_url,
            "DEVOPS_AGENT_ALERTMANAGER_URL": self.alertmanager_url,
            "DEVOPS_AGENT_DEFAULT_NAMESPACE": "market-predictor",
            "DEVOPS_AGENT_DESIRED_STATE": str(MANIFESTS_DIR),
        }


# --- health -----------------------------------------------------------------------------------


def _get(url: str, timeout: float = 2.0) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None


def _wait(
    what: str, check: Callable[[], bool], timeout_s: float, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(
                f"{what} exited with code {proc.returncode} while starting; its log ({log}):\n{tail(log)}"
            )
        if check():
            return
        time.sleep(0.25)
    raise SandboxError(
        f"{what} did not become healthy within {timeout_s:.0f}s; its log ({log}):\n{tail(log)}"
    )


def prometheus_targets_up(prometheus_url: str) -> tuple[int, int]:
    """(targets up, targets known) according to Prometheus' ``/api/v1/targets``."""
    resp = _get(f"{prometheus_url}/api/v1/targets?state=active")
    if resp is None or resp.status_code != 200:
        return 0, 0
    targets = resp.json().get("data", {}).get("activeTargets", [])
    return sum(1 for t in targets if t.get("health") == "up"), len(targets)


def health(state: SandboxState) -> dict[str, bool]:
    """Each part's health right now: process alive and answering."""
    server = _get(f"{state.control_url}/health")
    prom_ready = _get(f"{state.prometheus_url}/-/ready")
    am_ready = _get(f"{state.alertmanager_url}/-/ready")
    up, known = prometheus_targets_up(state.prometheus_url) if prom_ready is not None else (0, 0)
    return {
        "server": server is not None and server.status_code == 200,
        "prometheus": prom_ready is not None and prom_ready.status_code == 200,
        "prometheus_targets": known > 0 and up == known,
        "alertmanager": am_ready is not None and am_ready.status_code == 200,
    }


# --- up / down / status -----------------------------------------------------------------------


@dataclass
class Ports:
    """Ports to use; 0 = a free loopback port."""

    prometheus: int = 0
    alertmanager: int = 0
    kube: int = 0
    loki: int = 0
    metrics: int = 0
    control: int = 0


def up(
    directory: Path = DEFAULT_DIR,
    *,
    alert_webhook: str | None = None,
    ports: Ports | None = None,
    progress: Progress = lambda _msg: None,
    timeout_s: float = 90.0,
) -> SandboxState:
    """Start the sandbox in ``directory`` and return once every part is healthy.

    Already running and healthy: returns the running sandbox unchanged. On failure every process
    started so far is stopped and a SandboxError explains what happened, with the part's log.
    """
    directory = directory.resolve()
    ports = ports or Ports()
    prometheus_bin = find_binary("prometheus")
    alertmanager_bin = find_binary("prometheus-alertmanager", "alertmanager")
    existing = SandboxState.load(directory)
    if existing is not None:
        if all(pid_alive(p) for p in existing.pids.values()) and all(health(existing).values()):
            progress(f"sandbox already running in {directory}")
            return existing
        progress("stopping the remains of a previous sandbox")
        down(directory)
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    for stale in ("prom-data", "am-data"):  # a fresh start must not see a previous run's series
        shutil.rmtree(directory / stale, ignore_errors=True)
    started: dict[str, int] = {}
    try:
        return _start_all(
            directory, alert_webhook, ports, prometheus_bin, alertmanager_bin, progress, timeout_s, started
        )
    except BaseException:
        for name, pid in started.items():
            stop_pid(pid, EXPECT[name], grace_s=5)
        (directory / "state.json").unlink(missing_ok=True)
        raise


def _start_all(
    directory: Path,
    alert_webhook: str | None,
    ports: Ports,
    prometheus_bin: str,
    alertmanager_bin: str,
    progress: Progress,
    timeout_s: float,
    started: dict[str, int],
) -> SandboxState:
    server_json = directory / "server.json"
    server_json.unlink(missing_ok=True)
    server = _start_server(directory, ports, started)
    log = directory / "logs" / "server.log"
    _wait("the sandbox server", server_json.exists, timeout_s, server, log)
    info = json.loads(server_json.read_text())
    progress(f"  sandbox server   ready   (pid {server.pid}, kube API {info['kube_url']})")

    am_port = ports.alertmanager or free_port()
    am_url = f"http://{HOST}:{am_port}"
    (directory / "alertmanager.yml").write_text(prom.alertmanager_config(alert_webhook))
    am_log = directory / "logs" / "alertmanager.log"
    am = spawn(
        [
            alertmanager_bin,
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'am-data'}",
            f"--web.listen-address={HOST}:{am_port}",
            "--cluster.listen-address=",
            "--data.retention=2h",
            "--log.level=warn",
        ],
        am_log,
        directory,
    )
    started["alertmanager"] = am.pid

    prom_port = ports.prometheus or free_port()
    prom_url = f"http://{HOST}:{prom_port}"
    _write_prometheus_config(directory, info, f"{HOST}:{am_port}")
    prom_log = directory / "logs" / "prometheus.log"
    prometheus = spawn(
        [
            prometheus_bin,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'prom-data'}",
            "--storage.tsdb.retention.time=6h",
            f"--web.listen-address={HOST}:{prom_port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ],
        prom_log,
        directory,
    )
    started["prometheus"] = prometheus.pid

    _wait("alertmanager", lambda: _ok(f"{am_url}/-/ready"), timeout_s, am, am_log)
    progress(f"  alertmanager     ready   (pid {am.pid}, {am_url})")
    _wait("prometheus", lambda: _ok(f"{prom_url}/-/ready"), timeout_s, prometheus, prom_log)
    _wait("prometheus targets", lambda: _all_up(prom_url), timeout_s, prometheus, prom_log)
    up_n, known = prometheus_targets_up(prom_url)
    progress(f"  prometheus       ready   (pid {prometheus.pid}, {prom_url}, {up_n}/{known} targets up)")

    state = SandboxState(
        dir=str(directory),
        kubeconfig=info["kubeconfig"],
        prometheus_url=prom_url,
        alertmanager_url=am_url,
        loki_url=info["loki_url"],
        kube_url=info["kube_url"],
        control_url=info["control_url"],
        metrics_url=info["metrics_url"],
        pids=dict(started),
        ports={"prometheus": prom_port, "alertmanager": am_port, **info.get("ports", {})},
        alert_webhook=alert_webhook,
        started_at=time.time(),
    )
    state.save()
    return state


def _start_server(directory: Path, ports: Ports, started: dict[str, int]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "sandbox.server", "--dir", str(directory), "--host", HOST]
    for name in ("kube", "loki", "metrics", "control"):
        argv += [f"--{name}-port", str(getattr(ports, name))]
    proc = spawn(argv, directory / "logs" / "server.log", Path.cwd())
    started["server"] = proc.pid
    return proc


def _write_prometheus_config(directory: Path, info: dict[str, Any], am_addr: str) -> None:
    rules = directory / "rules"
    rules.mkdir(exist_ok=True)
    for rule_file in prom.RULES_DIR.glob("*.yml"):
        shutil.copyfile(rule_file, rules / rule_file.name)
    metrics_addr = info["metrics_url"].removeprefix("http://").rstrip("/")
    config = prom.prometheus_config(info["metrics_paths"], metrics_addr, am_addr, str(rules / "*.yml"))
    (directory / "prometheus.yml").write_text(config)


def _ok(url: str) -> bool:
    resp = _get(url)
    return resp is not None and resp.status_code == 200


def _all_up(prometheus_url: str) -> bool:
    up_n, known = prometheus_targets_up(prometheus_url)
    return known > 0 and up_n == known


def down(directory: Path = DEFAULT_DIR, *, progress: Progress = lambda _msg: None) -> list[str]:
    """Stop every process the sandbox in ``directory`` started; returns the parts stopped. Idempotent."""
    directory = directory.resolve()
    state = SandboxState.load(directory)
    stopped: list[str] = []
    if state is not None:
        # Prometheus first (so it does not fire TargetDown into Alertmanager), the server last.
        for name in ("prometheus", "alertmanager", "server"):
            pid = state.pids.get(name)
            if pid and stop_pid(pid, EXPECT[name]):
                stopped.append(name)
                progress(f"  stopped {name} (pid {pid})")
        (directory / "state.json").unlink(missing_ok=True)
    (directory / "server.json").unlink(missing_ok=True)
    return stopped


def status(directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    """What runs in ``directory``: URLs, pids, per-part health and an overall ``healthy``."""
    directory = directory.resolve()
    state = SandboxState.load(directory)
    if state is None:
        return {
            "dir": str(directory),
            "running": False,
            "healthy": False,
            "kubeconfig": None,
            "prometheus_url": None,
            "alertmanager_url": None,
            "loki_url": None,
        }
    alive = {name: pid_alive(pid) for name, pid in state.pids.items()}
    parts = health(state) if all(alive.values()) else {}
    return {
        **asdict(state),
        "running": any(alive.values()),
        "alive": alive,
        "parts": parts,
        "healthy": bool(parts) and all(parts.values()),
    }


def require_state(directory: Path = DEFAULT_DIR) -> SandboxState:
    """The running sandbox's state, or a SandboxError telling the user to start it."""
    state = SandboxState.load(directory.resolve())
    if state is None:
        raise SandboxError(
            f"no sandbox is running in {directory}: start one with `devops-agent sandbox up --dir {directory}`"
        )
    return state
