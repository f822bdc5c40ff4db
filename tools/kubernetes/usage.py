"""``k8s_resource_usage``: CPU and memory use against requests and limits, per container.

Usage comes from cAdvisor metrics in Prometheus when one is configured; otherwise the table shows
requests and limits and says "no usage data".
"""

from __future__ import annotations

import re
from typing import Any

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import ToolError, expected_errors
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context, deployment_pods
from tools.kubernetes.shape import table

_UNITS = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def parse_quantity(q: Any) -> float | None:
    """'500m' -> 0.5, '512Mi' -> 536870912.0, 2 -> 2.0; None when unparseable."""
    if q is None:
        return None
    m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(q))
    if not m or m.group(2) not in _UNITS:
        return None
    return float(m.group(1)) * _UNITS[m.group(2)]


def _mem(v: float | None) -> str:
    return "-" if v is None else f"{v / 1024**2:.0f}Mi"


def _cpu(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}m"


def _pct(use: float | None, limit: float | None) -> str:
    return f"{use / limit:.0%}" if use is not None and limit else "-"


def _usage(
    deps: ToolDeps, namespace: str, pods: list[str]
) -> tuple[dict[tuple[str, str], dict[str, float]], str]:
    """{(pod, container): {"cpu": cores, "memory": bytes}} from Prometheus, and a note when unavailable."""
    from tools.prometheus import instant_vector

    # PromQL strings take Go escapes only: pod names are [a-z0-9.-], so only the dot needs one
    regex = "|".join(p.replace(".", "\\\\.") for p in pods)
    sel = f'namespace="{namespace}",pod=~"{regex}",container!="",container!="POD"'
    queries = {
        "cpu": f"sum by (pod, container) (rate(container_cpu_usage_seconds_total{{{sel}}}[5m]))",
        "memory": f"sum by (pod, container) (container_memory_working_set_bytes{{{sel}}})",
    }
    out: dict[tuple[str, str], dict[str, float]] = {}
    try:
        for key, query in queries.items():
            for labels, value in instant_vector(deps, query):
                out.setdefault((labels.get("pod", ""), labels.get("container", "")), {})[key] = value
    except ToolError as exc:
        return {}, f"no usage data ({exc})"
    return out, "" if out else "no usage data (Prometheus has no cAdvisor series for these pods)"


@tool(risk="read", tags=("kubernetes", "prometheus"))
@expected_errors
def k8s_resource_usage(
    deps: ToolDeps, namespace: str, deployment: str | None = None, context: Context = None
) -> ToolResult:
    """CPU/memory use vs requests and limits per container.
    Example: k8s_resource_usage(namespace="ns", deployment="api")"""
    kube = Kube(deps, context)
    pods: list[Obj] = (
        deployment_pods(kube, kube.get("deployment", deployment, namespace))
        if deployment
        else kube.list("pod", namespace)
    )
    if not pods:
        return ToolResult.no_data(f"no pods in {namespace}{' for ' + deployment if deployment else ''}")
    usage, note = _usage(deps, namespace, [p["metadata"]["name"] for p in pods])
    rows, data = [], []
    for p in pods:
        for c in p.get("spec", {}).get("containers") or []:
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            use = usage.get((p["metadata"]["name"], c.get("name", "")), {})
            row = {
                "pod": p["metadata"]["name"],
                "container": c.get("name"),
                "cpu": use.get("cpu"),
                "cpu_request": parse_quantity(req.get("cpu")),
                "cpu_limit": parse_quantity(lim.get("cpu")),
                "memory": use.get("memory"),
                "memory_request": parse_quantity(req.get("memory")),
                "memory_limit": parse_quantity(lim.get("memory")),
            }
            data.append(row)
            rows.append(
                (
                    row["pod"],
                    row["container"],
                    f"{_cpu(row['cpu'])}/{_cpu(row['cpu_request'])}/{_cpu(row['cpu_limit'])}",
                    _pct(row["cpu"], row["cpu_limit"]),
                    f"{_mem(row['memory'])}/{_mem(row['memory_request'])}/{_mem(row['memory_limit'])}",
                    _pct(row["memory"], row["memory_limit"]),
                )
            )
    text = table(("POD", "CONTAINER", "CPU use/req/lim", "CPU%LIM", "MEM use/req/lim", "MEM%LIM"), rows)
    return shaped(deps, "k8s_resource_usage", text + (f"\n{note}" if note else ""), data)
