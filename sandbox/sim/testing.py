"""Helpers to drive the simulation deterministically (tests, benchmarks, notebooks).

>>> cluster = SimCluster.seeded()
>>> cluster.run(30)            # 30 simulated seconds in 0.5 s ticks
>>> cluster.pods("market-predictor", app="predictor")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.kube.store import Store
from sandbox.logs import LogStore
from sandbox.platform import PRODUCTION, seed
from sandbox.sim.objects import Obj
from sandbox.sim.simulation import Simulation


@dataclass
class FakeClock:
    """A clock that moves only when told to."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SimCluster:
    """A store, a log store, a fake clock and a simulation over them."""

    store: Store
    logs: LogStore
    clock: FakeClock
    sim: Simulation
    step_s: float = 0.5
    namespace: str = PRODUCTION
    _tick_hooks: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def seeded(cls, *, history: bool = True, settle_s: float = 20.0, seed_value: int = 7) -> SimCluster:
        """The market-predictor platform, seeded and run until it has settled."""
        store, logs, clock = Store(), LogStore(), FakeClock()
        seed(store, history=history)
        cluster = cls(store, logs, clock, Simulation(store, logs, clock, seed=seed_value))
        cluster.run(settle_s)
        return cluster

    def on_tick(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` before every tick (e.g. to write load into the runtime)."""
        self._tick_hooks.append(hook)

    def run(self, seconds: float) -> None:
        """Advance simulated time by ``seconds``, ticking every ``step_s``."""
        steps = max(round(seconds / self.step_s), 1)
        for _ in range(steps):
            for hook in self._tick_hooks:
                hook()
            self.sim.tick()
            self.clock.advance(self.step_s)

    def run_until(self, predicate: Callable[[], bool], timeout_s: float = 120.0) -> bool:
        """Tick until ``predicate()`` holds or ``timeout_s`` simulated seconds passed; returns it."""
        waited = 0.0
        while waited <= timeout_s:
            if predicate():
                return True
            self.run(self.step_s)
            waited += self.step_s
        return predicate()

    # --- reading ---------------------------------------------------------------------------
    def get(self, resource: str, name: str, namespace: str | None = None) -> Obj:
        return self.store.get(resource, self.namespace if namespace is None else namespace, name)

    def pods(self, namespace: str | None = None, *, app: str | None = None, live: bool = True) -> list[Obj]:
        """Pods of a namespace, optionally of one app; ``live`` leaves out terminating ones."""
        pods = self.store.list("pods", self.namespace if namespace is None else namespace)
        return [
            p
            for p in pods
            if (app is None or p["metadata"].get("labels", {}).get("app") == app)
            and (not live or not p["metadata"].get("deletionTimestamp"))
        ]

    def events(self, reason: str | None = None, name_prefix: str = "") -> list[Obj]:
        return [
            e
            for e in self.store.list("events")
            if (reason is None or e["reason"] == reason)
            and e["involvedObject"]["name"].startswith(name_prefix)
        ]

    def mutate(self, resource: str, name: str, fn: Callable[[Obj], Any], namespace: str | None = None) -> Obj:
        """Change an object as a user would through the API (read-modify-write)."""
        return self.store.mutate(resource, self.namespace if namespace is None else namespace, name, fn)

    def endpoints(self, name: str, namespace: str | None = None) -> tuple[list[str], list[str]]:
        """(ready pod names, not-ready pod names) behind a service."""
        obj = self.get("endpoints", name, namespace)
        ready = [a["targetRef"]["name"] for s in obj.get("subsets") or [] for a in s.get("addresses") or []]
        waiting = [
            a["targetRef"]["name"] for s in obj.get("subsets") or [] for a in s.get("notReadyAddresses") or []
        ]
        return sorted(ready), sorted(waiting)


def container_status(pod: Obj, index: int = 0) -> Obj:
    """The first (or ``index``-th) container status of a pod, or {}."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return statuses[index] if len(statuses) > index else {}


def waiting_reason(pod: Obj) -> str:
    return str(container_status(pod).get("state", {}).get("waiting", {}).get("reason", ""))
