"""The simulated cluster's control loop: every controller, the scheduler and the kubelets.

``Simulation(store, logs)`` wires them over one :class:`~sandbox.kube.store.Store` and one
:class:`~sandbox.sim.runtime.Runtime`. :meth:`Simulation.tick` runs one synchronous pass of each
(tests drive it with a fake clock); :meth:`Simulation.start` runs passes in a background thread
every ``interval_s`` until :meth:`Simulation.stop`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from sandbox.kube.store import Store
from sandbox.sim.container_logs import ContainerLogger
from sandbox.sim.deployments import DeploymentController
from sandbox.sim.endpoints import EndpointsController
from sandbox.sim.events import EventRecorder
from sandbox.sim.gc import GarbageCollector
from sandbox.sim.hpa import HorizontalPodAutoscalerController
from sandbox.sim.kubelet import Kubelet
from sandbox.sim.nodes import NodeLifecycleController
from sandbox.sim.objects import Clock
from sandbox.sim.replicasets import ReplicaSetController
from sandbox.sim.runtime import LogSink, Runtime
from sandbox.sim.scheduler import Scheduler
from sandbox.sim.view import StoreView

log = logging.getLogger(__name__)


class Simulation:
    """All the cluster's moving parts over one store. Thread-safe to tick from one thread at a time."""

    def __init__(
        self,
        store: Store,
        logs: LogSink | None = None,
        clock: Clock = time.time,
        *,
        runtime: Runtime | None = None,
        interval_s: float = 0.5,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.runtime = runtime or Runtime()
        self.clock = clock
        self.interval_s = interval_s
        view = StoreView(store)
        self.events = EventRecorder(view, clock)
        rng = random.Random(seed)
        self.hpa = HorizontalPodAutoscalerController(view, self.runtime, self.events, clock)
        self.deployments = DeploymentController(view, self.events, clock)
        self.replicasets = ReplicaSetController(view, self.events, clock, rng)
        self.nodes = NodeLifecycleController(view, self.events, clock)
        self.scheduler = Scheduler(view, self.events, clock)
        self.kubelet = Kubelet(view, self.runtime, self.events, ContainerLogger(logs, clock), clock)
        self.endpoints = EndpointsController(view, clock)
        self.gc = GarbageCollector(view, clock)
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _steps(self) -> tuple[Callable[[], None], ...]:
        """Every controller's pass, in the order a change flows through a cluster."""
        return (
            self.hpa.sync,
            self.deployments.sync,
            self.replicasets.sync,
            self.nodes.sync,
            self.scheduler.sync,
            self.kubelet.sync,
            self.endpoints.sync,
            self.gc.sync,
        )

    def tick(self) -> None:
        """One pass of every controller; an error propagates (tests want to see it)."""
        with self._tick_lock:
            for step in self._steps():
                step()

    def _tick_isolated(self) -> None:
        """One pass where a failing controller is logged and the others still run (background use)."""
        with self._tick_lock:
            for step in self._steps():
                try:
                    step()
                except Exception:  # one controller's bug must not stop the cluster; retried next tick
                    log.exception("simulation step %s failed; retrying on the next tick", step.__qualname__)

    def settle(self, ticks: int = 5) -> None:
        """Several passes in a row: lets a change propagate through every controller."""
        for _ in range(ticks):
            self.tick()

    def start(self) -> None:
        """Run :meth:`tick` every ``interval_s`` in a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sandbox-simulation", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the background thread and wait for it to finish its current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._tick_isolated()
            self._stop.wait(self.interval_s)
