"""Requests and limits from usage history, with the semantics of KRR's ``simple`` strategy.

KRR (robusta-dev/krr, README "Algorithm" and ``krr simple --help``): the CPU request is a high
percentile of CPU use (95th by default in current releases, 99th in older ones), with no CPU limit;
memory is the peak over the history plus a 15% buffer, for request and limit alike; a container
with fewer than 100 data points gets no recommendation. CPU never goes below 10m, memory below 100Mi.

Where we depart from it, and why:

- **CPU limit**: KRR removes it; we keep one at the observed peak x 1.2 (never below the request),
  so throttling and the CPU-against-limit alerts keep meaning something. ``cpu_limit="unset"``
  gives KRR's behaviour.
- **OOM kills censor memory**: a container killed at its limit never shows what it needed; its
  observed peak *is* the limit. KRR then recommends limit x 1.15 at most from a peak it never saw
  past; we flag it and start from the limit x 1.5 (one step up), and say the figure is a floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

CPU_PERCENTILE = 95.0
MEMORY_BUFFER = 0.15
POINTS_REQUIRED = 100
CPU_MIN_CORES = 0.010
MEMORY_MIN_BYTES = 100 * 1024**2
CPU_LIMIT_HEADROOM = 1.2
OOM_STEP = 1.5
MI = 1024**2


@dataclass
class ContainerUsage:
    """A container of a workload: its history (all pods pooled) and what it asks for now."""

    namespace: str
    workload: str
    container: str
    replicas: int
    cpu_cores: Sequence[float]
    memory_bytes: Sequence[float]
    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None
    oom_killed: bool = False


@dataclass
class Recommendation:
    namespace: str
    workload: str
    container: str
    replicas: int
    status: Literal["ok", "not_enough_data"]
    reason: str = ""
    points: dict[str, int] = field(default_factory=dict)
    current: dict[str, float | None] = field(default_factory=dict)
    recommended: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_quantity(cores: float | None) -> str:
    return "" if cores is None else f"{max(math.ceil(cores * 1000), 1)}m"


def memory_quantity(value: float | None) -> str:
    return "" if value is None else f"{max(math.ceil(value / MI), 1)}Mi"


def _current(u: ContainerUsage) -> dict[str, float | None]:
    return {
        "cpu_request": u.cpu_request,
        "cpu_limit": u.cpu_limit,
        "memory_request": u.memory_request,
        "memory_limit": u.memory_limit,
    }


def recommend(
    u: ContainerUsage,
    *,
    cpu_percentile: float = CPU_PERCENTILE,
    points_required: int = POINTS_REQUIRED,
    cpu_limit: Literal["peak", "unset"] = "peak",
) -> Recommendation:
    """One container's recommendation, or "not enough data" with the counts it had."""
    cpu = np.asarray([v for v in u.cpu_cores if math.isfinite(v)], dtype=float)
    mem = np.asarray([v for v in u.memory_bytes if math.isfinite(v)], dtype=float)
    rec = Recommendation(
        namespace=u.namespace,
        workload=u.workload,
        container=u.container,
        replicas=u.replicas,
        status="ok",
        points={"cpu": int(cpu.size), "memory": int(mem.size)},
        current=_current(u),
    )
    short = [f"{k} has {n}" for k, n in rec.points.items() if n < points_required]
    if short:
        rec.status = "not_enough_data"
        rec.reason = f"not enough data: {', '.join(short)} points, {points_required} needed"
        return rec
    cpu_request = max(float(np.percentile(cpu, cpu_percentile)), CPU_MIN_CORES)
    peak = float(mem.max())
    if u.oom_killed and u.memory_limit:
        peak = max(peak, u.memory_limit * OOM_STEP / (1 + MEMORY_BUFFER))
        rec.notes.append(
            f"OOMKilled at its {memory_quantity(u.memory_limit)} limit: the real peak is unknown, "
            f"so memory starts one step up ({OOM_STEP}x the limit); watch it and recommend again"
        )
    memory = max(peak * (1 + MEMORY_BUFFER), MEMORY_MIN_BYTES)
    limit = None if cpu_limit == "unset" else max(float(cpu.max()) * CPU_LIMIT_HEADROOM, cpu_request)
    rec.recommended = {
        "cpu_request": cpu_request,
        "cpu_limit": limit,
        "memory_request": memory,
        "memory_limit": memory,
    }
    return rec


def set_resources_args(rec: Recommendation) -> dict[str, str]:
    """The ``k8s_set_resources`` arguments that apply a recommendation ("" unsets a CPU limit)."""
    r = rec.recommended
    return {
        "deployment": rec.workload,
        "namespace": rec.namespace,
        "container": rec.container,
        "cpu_request": cpu_quantity(r.get("cpu_request")),
        "cpu_limit": cpu_quantity(r.get("cpu_limit")),
        "memory_request": memory_quantity(r.get("memory_request")),
        "memory_limit": memory_quantity(r.get("memory_limit")),
    }
