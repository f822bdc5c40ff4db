"""What is running right now: the container runtime state the kubelet owns, and the load on each pod.

Kubernetes objects say what *should* run; this registry says what *does*: which image profile a
container runs, the environment it resolved at start (kept here, never written into objects, as a
real runtime keeps it), when it started, whether it listens and is ready. The traffic side reads it
to route requests and writes back each pod's load (``rps``) and CPU use; the kubelet reads the load
back to decide OOM kills, and the HPA controller reads the CPU.

Thread-safe; readers always get copies.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from sandbox.images import ImageProfile

PodKey = tuple[str, str]  # (namespace, pod)


class LogSink(Protocol):
    """Where container output goes (``sandbox.logs.LogStore`` implements it).

    Labels: ``namespace``, ``pod``, ``container``, ``app``, ``node``, ``job``. ``restart`` is the
    container's restartCount when the line was written, so ``kubectl logs --previous`` works.
    """

    def append(
        self, labels: Mapping[str, str], line: str, ts_ns: int | None = None, *, restart: int = 0
    ) -> None: ...


@dataclass
class ContainerRuntime:
    """One container instance as the runtime sees it.

    ``running`` is True between start and exit; ``ready`` follows the readiness probe;
    ``listening_port`` is the port the process listens on (None until started). ``env`` is the
    resolved environment (literals, configmap and secret values) at the last start.
    """

    namespace: str
    pod: str
    container: str
    app: str
    node: str
    image: str
    profile: ImageProfile | None
    env: dict[str, str] = field(default_factory=dict)
    started_at: float | None = None
    restart_count: int = 0
    running: bool = False
    ready: bool = False
    listening_port: int | None = None
    memory_limit_mib: float | None = None
    cpu_limit_millicores: float | None = None
    cpu_request_millicores: float = 0.0
    memory_request_mib: float = 0.0
    pod_ip: str = ""

    def uptime(self, now: float) -> float:
        """Seconds since the current instance started (0 when not running)."""
        return max(now - self.started_at, 0.0) if self.running and self.started_at is not None else 0.0


@dataclass
class PodUsage:
    """Load on one pod, written by the traffic side: requests per second and CPU in millicores."""

    rps: float = 0.0
    cpu_millicores: float = 0.0
    memory_mib: float | None = None  # optional override; the kubelet otherwise derives it from the image


class Runtime:
    """The registry of running containers and pod usage. Shared by kubelet, traffic, metrics and HPA."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._containers: dict[tuple[str, str, str], ContainerRuntime] = {}
        self._usage: dict[PodKey, PodUsage] = {}

    # --- containers (the kubelet writes) -----------------------------------------------------
    def put(self, state: ContainerRuntime) -> None:
        """Record (or replace) a container's state."""
        with self._lock:
            self._containers[(state.namespace, state.pod, state.container)] = replace(
                state, env=dict(state.env)
            )

    def get(self, namespace: str, pod: str, container: str) -> ContainerRuntime | None:
        """A copy of one container's state, or None when the kubelet has not created it."""
        with self._lock:
            state = self._containers.get((namespace, pod, container))
            return replace(state, env=dict(state.env)) if state else None

    def containers(self, namespace: str | None = None, pod: str | None = None) -> list[ContainerRuntime]:
        """Copies of every container state, optionally only one namespace and/or pod."""
        with self._lock:
            return [
                replace(c, env=dict(c.env))
                for (ns, p, _), c in sorted(self._containers.items())
                if (namespace is None or ns == namespace) and (pod is None or p == pod)
            ]

    def remove_pod(self, namespace: str, pod: str) -> None:
        """Forget a pod's containers and usage (the pod object is gone)."""
        with self._lock:
            for key in [k for k in self._containers if k[:2] == (namespace, pod)]:
                del self._containers[key]
            self._usage.pop((namespace, pod), None)

    def pods(self) -> list[PodKey]:
        """Every (namespace, pod) with at least one container known to the runtime."""
        with self._lock:
            return sorted({k[:2] for k in self._containers})

    # --- usage (the traffic side writes) ----------------------------------------------------
    def set_usage(
        self,
        namespace: str,
        pod: str,
        *,
        rps: float | None = None,
        cpu_millicores: float | None = None,
        memory_mib: float | None = None,
    ) -> None:
        """Update a pod's load; arguments left None keep their previous value."""
        with self._lock:
            usage = self._usage.setdefault((namespace, pod), PodUsage())
            if rps is not None:
                usage.rps = rps
            if cpu_millicores is not None:
                usage.cpu_millicores = cpu_millicores
            if memory_mib is not None:
                usage.memory_mib = memory_mib

    def has_usage(self, namespace: str, pod: str) -> bool:
        """Whether the traffic side has reported load for this pod (a metrics sample exists)."""
        with self._lock:
            return (namespace, pod) in self._usage

    def usage(self, namespace: str, pod: str) -> PodUsage:
        """A copy of a pod's load (zeros when nothing was written)."""
        with self._lock:
            return replace(self._usage.get((namespace, pod), PodUsage()))
