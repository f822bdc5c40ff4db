"""An in-process market-predictor world for the tool integration tests.

The seeded platform and its simulation behind the Kubernetes API stand-in and the Loki stand-in,
each on a free loopback port; the simulation runs only when a test calls ``world.run(seconds)``
(simulated seconds, ticked instantly), so tests are deterministic and fast.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import faults
from sandbox.kube.kubeconfig import write_kubeconfig
from sandbox.kube.server import KubeApiServer, start_kube_api
from sandbox.kube.store import Store
from sandbox.logs import LogStore
from sandbox.loki.server import start_loki
from sandbox.platform import PRODUCTION, seed
from sandbox.sim.simulation import Simulation
from sandbox.sim.testing import FakeClock, SimCluster
from tools.deps import Deps

NS = PRODUCTION
Obj = dict[str, Any]


@dataclass
class World:
    cluster: SimCluster
    kube: KubeApiServer
    loki: Any
    deps: Deps
    kubeconfig: Path

    @property
    def store(self) -> Store:
        return self.cluster.store

    def run(self, seconds: float) -> None:
        self.cluster.run(seconds)

    def get(self, resource: str, name: str, namespace: str | None = NS) -> Obj:
        return self.store.get(resource, namespace or "", name)

    def image(self, deployment: str) -> str:
        return str(self.get("deployments", deployment)["spec"]["template"]["spec"]["containers"][0]["image"])

    def inject(self, fault: str, target: str | None = None) -> faults.Fault:
        f = faults.get_fault(fault, target)
        faults.inject(self.deps.kube(), f)
        return f


def make_world(tmp_path: Path) -> Iterator[World]:
    store, logs = Store(), LogStore()
    clock = FakeClock(time.time())
    seed(store)
    cluster = SimCluster(store, logs, clock, Simulation(store, logs, clock, seed=7))
    cluster.run(20)
    kube = start_kube_api(store, log_provider=logs.pod_log)
    loki = start_loki(logs)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", kube.url)
    deps = Deps(kubeconfig=kubeconfig, loki_url=loki.url, raw_dir=tmp_path / "raw", http_timeout_s=5)
    try:
        yield World(cluster, kube, loki, deps, kubeconfig)
    finally:
        deps.close()
        kube.shutdown()
        loki.shutdown()


class SilentServer:
    """Accepts connections and never answers: a backend that times out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self._conns.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        for c in self._conns:
            c.close()
        self.sock.close()
