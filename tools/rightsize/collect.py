"""Usage history of every deployment's containers, from Prometheus (cAdvisor) and the cluster.

Per container, the samples of all its pods over the history are pooled, as KRR does: CPU as the 5m
rate of ``container_cpu_usage_seconds_total``, memory as the peak working set of each step. Pods are
matched by name (``<deployment>-<hash>-<suffix>``), so pods replaced since count too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.base import ToolDeps
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.usage import parse_quantity
from tools.prometheus import instant_vector, range_series
from tools.rightsize.model import ContainerUsage

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series


def step_for(hours: float) -> int:
    """One sample a minute (KRR uses 1.25 min), coarser when the history would exceed MAX_POINTS."""
    return max(60, int(hours * 3600 / MAX_POINTS) + 1)


def _selector(namespace: str, deployment: str) -> str:
    pods = deployment.replace(".", "\\\\.") + "-[a-z0-9]+-[a-z0-9]+"
    return f'namespace="{namespace}",pod=~"{pods}",container!="",container!="POD"'


def _pooled(series: list[tuple[dict[str, str], list[float]]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for labels, values in series:
        out.setdefault(labels.get("container", ""), []).extend(values)
    return out


def workload_usage(
    deps: ToolDeps, dep: Obj, hours: float, now: datetime | None = None
) -> list[ContainerUsage]:
    """Each container of one deployment with its pooled history; raises ToolError."""
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    end = now or datetime.now(UTC)
    start = end - timedelta(hours=hours)
    step = step_for(hours)
    sel = _selector(ns, name)
    cpu = _pooled(
        range_series(
            deps,
            f"sum by (pod, container) (rate(container_cpu_usage_seconds_total{{{sel}}}[5m]))",
            start,
            end,
            step,
        )
    )
    mem = _pooled(
        range_series(
            deps,
            f"max by (pod, container) (max_over_time(container_memory_working_set_bytes{{{sel}}}[{step}s]))",
            start,
            end,
            step,
        )
    )
    oom_query = f'max by (container) (max_over_time(kube_pod_container_status_last_terminated_reason{{{sel},reason="OOMKilled"}}[{int(hours * 3600)}s]))'
    oom = {labels.get("container", ""): value >= 1 for labels, value in instant_vector(deps, oom_query)}
    out = []
    for c in dep["spec"]["template"]["spec"].get("containers") or []:
        cname = c.get("name", "")
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        out.append(
            ContainerUsage(
                namespace=ns,
                workload=name,
                container=cname,
                replicas=int(dep["spec"].get("replicas", 1)),
                cpu_cores=cpu.get(cname, []),
                memory_bytes=mem.get(cname, []),
                cpu_request=parse_quantity(req.get("cpu")),
                cpu_limit=parse_quantity(lim.get("cpu")),
                memory_request=parse_quantity(req.get("memory")),
                memory_limit=parse_quantity(lim.get("memory")),
                oom_killed=oom.get(cname, False),
            )
        )
    return out


def namespace_usage(
    deps: ToolDeps, namespace: str | None, hours: float, context: str | None = None
) -> list[ContainerUsage]:
    """Every deployment's containers in a namespace (None: all namespaces)."""
    kube = Kube(deps, context)
    out: list[ContainerUsage] = []
    for dep in kube.list("deployment", namespace):
        out.extend(workload_usage(deps, dep, hours))
    return out
