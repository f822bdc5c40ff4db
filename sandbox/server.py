"""The sandbox process: one store, the simulation, traffic, and the servers that expose them.

``python -m sandbox.server --dir DIR`` hosts the Kubernetes API stand-in, the simulated cluster
(controllers, kubelet, traffic), the metrics endpoints Prometheus scrapes, the Loki API stand-in and
the control API. Once the platform is up (every deployment available) it writes ``DIR/kubeconfig``
and ``DIR/server.json`` (pid, URLs, ports, metrics paths). SIGTERM or SIGINT shuts it down cleanly.
Prometheus and Alertmanager are separate processes, started by ``sandbox up`` (``sandbox.lifecycle``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from sandbox.control import ActiveFaults, ControlHandlers, start_control
from sandbox.faults import catalog
from sandbox.kube.kubeconfig import write_kubeconfig
from sandbox.kube.server import start_kube_api
from sandbox.kube.store import NotFound, Store
from sandbox.logs import LogStore
from sandbox.loki.server import start_loki
from sandbox.metrics import metrics_targets, start_metrics_server
from sandbox.platform import seed
from sandbox.sim import Simulation
from sandbox.traffic.control import TrafficControl
from sandbox.traffic.engine import Traffic

log = logging.getLogger("sandbox.server")

PRODUCTION = "market-predictor"
# The kinds a reset re-applies from the seed (what a GitOps tool would own); pods, replica sets and
# events belong to the controllers and follow by themselves.
SEEDED_KINDS = (
    "namespaces",
    "nodes",
    "configmaps",
    "secrets",
    "services",
    "deployments",
    "horizontalpodautoscalers",
)


def reapply_seed(store: Store) -> dict[str, int]:
    """Put every seeded object back as the seed wrote it (create, update or delete); returns counts.

    Like re-applying the platform's manifests: specs, data and node conditions return to the seed,
    and objects of those kinds that the seed does not have are deleted. The controllers then move
    pods and replica sets back by themselves (a deployment whose template matches an old replica
    set rolls back to it).
    """
    fresh = Store()
    seed(fresh)
    counts = {"created": 0, "updated": 0, "deleted": 0}
    autoscaled = {
        (h["metadata"]["namespace"], h["spec"]["scaleTargetRef"]["name"])
        for h in fresh.list("horizontalpodautoscalers")
    }
    for kind in SEEDED_KINDS:
        wanted = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in fresh.list(kind)}
        for (namespace, name), obj in wanted.items():
            live = store.try_get(kind, namespace, name)
            if live is None:
                store.create(kind, _strip(obj))
                counts["created"] += 1
            elif _restore(kind, live, obj, keep_replicas=(namespace, name) in autoscaled):
                store.update(kind, live)
                counts["updated"] += 1
        if kind in ("namespaces", "nodes"):
            continue
        for obj in store.list(kind):
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if key not in wanted:
                try:
                    store.delete(kind, *key)
                    counts["deleted"] += 1
                except NotFound:
                    pass
    return counts


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("uid", "resourceVersion", "generation")}
    return {**obj, "metadata": meta}


def _restore(kind: str, live: dict[str, Any], seeded: dict[str, Any], *, keep_replicas: bool = False) -> bool:
    """Copy the seeded fields onto ``live``; True when something changed.

    ``keep_replicas``: the deployment is scaled by an HPA, so its replica count is the HPA's (as
    with ``kubectl apply`` of a manifest that leaves ``replicas`` to the autoscaler).
    """
    before = json.dumps(live, sort_keys=True)
    replicas = live.get("spec", {}).get("replicas")
    fields = {"configmaps": ("data",), "secrets": ("data", "stringData", "type")}.get(kind, ("spec",))
    for f in fields:
        if f in seeded:
            live[f] = seeded[f]
        else:
            live.pop(f, None)
    if keep_replicas and replicas is not None:
        live["spec"]["replicas"] = replicas
    if kind == "services":  # keep the allocated cluster IP, as `kubectl apply` would
        for key in ("clusterIP", "clusterIPs"):
            if key in (before_spec := json.loads(before).get("spec", {})):
                live["spec"][key] = before_spec[key]
    if kind == "nodes":
        conditions = seeded.get("status", {}).get("conditions")
        if conditions is not None:
            live.setdefault("status", {})["conditions"] = conditions
    meta, seeded_meta = live["metadata"], seeded["metadata"]
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k != "kubernetes.io/change-cause"
    }
    annotations.update(seeded_meta.get("annotations") or {})
    if annotations != (meta.get("annotations") or {}):
        meta["annotations"] = annotations
    if (seeded_meta.get("labels") or {}) != (meta.get("labels") or {}):
        meta["labels"] = seeded_meta.get("labels") or {}
    changed = json.dumps(live, sort_keys=True) != before
    if changed and seeded_meta.get("managedFields"):
        # back to the seeded state means back to its history too: the next scenario must not read
        # the previous one's fault (or this reset) as a fresh change an operator made
        meta["managedFields"] = seeded_meta["managedFields"]
    return changed


class SandboxServer:
    """Every part of the sandbox process, started in order and stopped in reverse."""

    def __init__(self, directory: Path, host: str, ports: dict[str, int]) -> None:
        self.dir = directory
        self.host = host
        self.ports = ports
        self.store = Store()
        self.logs = LogStore()
        self.traffic_control = TrafficControl()
        self.active = ActiveFaults(directory / "injected.json")
        self._stops: list[Callable[[], None]] = []

    def start(self) -> None:
        """Seed the platform, start the simulation and traffic, then every server."""
        seed(self.store)
        self.sim = Simulation(self.store, self.logs)
        self.sim.start()
        self._stops.append(self.sim.stop)
        self.traffic = Traffic(self.store, self.sim.runtime, self.logs, self.traffic_control)
        self.traffic.start()
        self._stops.append(self.traffic.stop)
        self.kube = start_kube_api(self.store, self.host, self.ports["kube"], self.logs.pod_log)
        self._stops.append(self.kube.shutdown)
        self.targets = metrics_targets(self.store, self.traffic)
        self.metrics = start_metrics_server(self.host, self.ports["metrics"], self.targets)
        self._stops.append(self.metrics.shutdown)
        self.loki = start_loki(self.logs, self.host, self.ports["loki"])
        self._stops.append(self.loki.shutdown)
        handlers = ControlHandlers(
            traffic=self.traffic_control,
            active=self.active,
            health=self.health,
            reset=self.reset,
            catalog=catalog,
            plant=self._plant,
        )
        self.control = start_control(handlers, self.host, self.ports["control"])
        self._stops.append(self.control.shutdown)

    def _plant(self, body: dict[str, Any]) -> dict[str, Any]:
        from sandbox.plant import plant_text

        return plant_text(
            self.store,
            self.logs,
            where=str(body["where"]),
            namespace=str(body["namespace"]),
            target=str(body["target"]),
            text=str(body["text"]),
            count=int(body.get("count") or 1),
        )

    def platform_ready(self) -> tuple[bool, str]:
        """Whether every production deployment has all its replicas available."""
        waiting = []
        for dep in self.store.list("deployments", PRODUCTION):
            want = int(dep["spec"].get("replicas", 1))
            have = int(dep.get("status", {}).get("availableReplicas") or 0)
            if have < want:
                waiting.append(f"{dep['metadata']['name']} {have}/{want}")
        return not waiting, ", ".join(waiting) or "all deployments available"

    def health(self) -> dict[str, Any]:
        """The control API's health report."""
        ready, detail = self.platform_ready()
        parts = {
            "kube": _answers(f"{self.kube.url}/healthz"),
            "metrics": _answers(f"{self.metrics.url}/metrics"),
            "loki": _answers(f"{self.loki.url}/ready"),
            "simulation": self.sim_alive(),
        }
        # The platform may be broken on purpose (a fault): that is reported, not unhealthy.
        return {"healthy": all(parts.values()), "parts": parts, "platform_ready": ready, "platform": detail}

    def sim_alive(self) -> bool:
        """Whether the simulation and traffic threads still run."""
        threads = {t.name for t in threading.enumerate()}
        return "traffic" in threads and any("sim" in name for name in threads)

    def reset(self) -> dict[str, Any]:
        """Back to the seeded state: objects re-applied, surges cleared, injections forgotten."""
        counts = reapply_seed(self.store)
        surges = self.traffic_control.clear()
        faults = self.active.clear()
        return {"objects": counts, "surges_cleared": surges, "faults_forgotten": faults}

    def info(self) -> dict[str, Any]:
        """What ``server.json`` says: pid, URLs, ports and the metrics paths to scrape."""
        return {
            "pid": os.getpid(),
            "kube_url": self.kube.url,
            "loki_url": self.loki.url,
            "metrics_url": self.metrics.url,
            "control_url": self.control.url,
            "metrics_paths": sorted(self.targets),
            "kubeconfig": str(self.dir / "kubeconfig"),
            "ports": {
                "kube": self.kube.port,
                "loki": self.loki.port,
                "metrics": self.metrics.port,
                "control": self.control.port,
            },
        }

    def stop(self) -> None:
        """Stop every part, newest first; a part that fails to stop does not keep the others running."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", getattr(stop, "__qualname__", stop))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox process until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.server", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="sandbox dir (kubeconfig, server.json)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    for name in ("kube", "loki", "metrics", "control"):
        parser.add_argument(f"--{name}-port", type=int, default=0, help=f"{name} port (0 = a free port)")
    parser.add_argument("--ready-timeout", type=float, default=90.0, help="seconds to wait for the platform")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s"
    )

    directory: Path = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.json").unlink(missing_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    ports = {name: getattr(args, f"{name}_port") for name in ("kube", "loki", "metrics", "control")}
    server = SandboxServer(directory, args.host, ports)
    try:
        server.start()
        write_kubeconfig(directory / "kubeconfig", server.kube.url)
        deadline = time.monotonic() + args.ready_timeout
        while not stop.is_set():
            ready, detail = server.platform_ready()
            if ready:
                break
            if time.monotonic() > deadline:
                log.error("the platform did not become ready within %.0fs: %s", args.ready_timeout, detail)
                return 1
            stop.wait(0.5)
        if not stop.is_set():
            _write_json(directory / "server.json", server.info())
            log.info("sandbox ready: %s", json.dumps(server.info()))
        stop.wait()
        return 0
    finally:
        (directory / "server.json").unlink(missing_ok=True)
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
