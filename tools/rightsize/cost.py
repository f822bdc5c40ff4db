"""Cost from requests x prices, OpenCost's allocation model in small.

OpenCost prices a container by what it reserves or uses, whichever is more
(``max(request, usage)`` per resource) times an hourly price per vCPU and per GiB of RAM; its
default prices (``configs/default.json``, GCP us-central1) are 0.031611 $/vCPU-hour and
0.004237 $/GiB-hour, which are ours unless configured. A month is 730 hours.

- **cost** of a workload: replicas x (max(cpu request, mean use) x cpu price + same for memory);
- **wasted**: what is requested and not used on average (request - mean use, when positive), priced;
- **savings** of a recommendation: cost at the current requests - cost at the recommended ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tools.rightsize.model import ContainerUsage, Recommendation

CPU_HOUR = 0.031611
GIB_HOUR = 0.004237
HOURS_PER_MONTH = 730.0
GIB = 1024**3


@dataclass(frozen=True)
class Prices:
    cpu_hour: float = CPU_HOUR
    gib_hour: float = GIB_HOUR


@dataclass
class WorkloadCost:
    namespace: str
    workload: str
    monthly: float
    wasted_monthly: float
    recommended_monthly: float | None = None
    savings_monthly: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean(values: Any) -> float:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()) if arr.size else 0.0


def _hourly(cpu: float, mem: float, prices: Prices) -> float:
    return cpu * prices.cpu_hour + mem / GIB * prices.gib_hour


def container_cost(u: ContainerUsage, prices: Prices, rec: Recommendation | None = None) -> WorkloadCost:
    """Monthly cost, waste and (with a recommendation) savings of one container across its replicas."""
    cpu_use, mem_use = _mean(u.cpu_cores), _mean(u.memory_bytes)
    cpu_req, mem_req = u.cpu_request or 0.0, u.memory_request or 0.0
    month = HOURS_PER_MONTH * u.replicas
    cost = _hourly(max(cpu_req, cpu_use), max(mem_req, mem_use), prices) * month
    wasted = _hourly(max(cpu_req - cpu_use, 0), max(mem_req - mem_use, 0), prices) * month
    out = WorkloadCost(namespace=u.namespace, workload=u.workload, monthly=cost, wasted_monthly=wasted)
    if not u.cpu_request or not u.memory_request:
        out.notes.append("no request set for CPU or memory: priced at its use")
    if rec is not None and rec.status == "ok":
        r = rec.recommended
        new = _hourly(
            max(r.get("cpu_request") or 0.0, cpu_use), max(r.get("memory_request") or 0.0, mem_use), prices
        )
        out.recommended_monthly = new * month
        out.savings_monthly = cost - out.recommended_monthly
    return out


def by_namespace(costs: list[WorkloadCost]) -> dict[str, dict[str, float]]:
    """Totals per namespace: monthly cost, waste and the savings on offer."""
    out: dict[str, dict[str, float]] = {}
    for c in costs:
        t = out.setdefault(c.namespace, {"monthly": 0.0, "wasted_monthly": 0.0, "savings_monthly": 0.0})
        t["monthly"] += c.monthly
        t["wasted_monthly"] += c.wasted_monthly
        t["savings_monthly"] += c.savings_monthly or 0.0
    return out


def idle_capacity(
    allocatable: dict[str, float], requested: dict[str, float], prices: Prices
) -> dict[str, float]:
    """Node capacity nobody requested (cores, bytes) and its monthly price (OpenCost's "idle")."""
    cpu = max(allocatable.get("cpu", 0.0) - requested.get("cpu", 0.0), 0.0)
    mem = max(allocatable.get("memory", 0.0) - requested.get("memory", 0.0), 0.0)
    return {"cpu": cpu, "memory": mem, "monthly": _hourly(cpu, mem, prices) * HOURS_PER_MONTH}
