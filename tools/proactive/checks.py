"""The proactive read tools: anomalies on the golden signals, and capacity forecasts.

Both read history from Prometheus (range queries, one point per ``step``), and hand each series to
the pure functions of :mod:`tools.proactive.seasonal` and :mod:`tools.proactive.forecast`. Pods are
folded into their deployment by name (``<deployment>-<hash>-<suffix>``), so replaced pods count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import expected_errors
from tools.proactive.forecast import forecast
from tools.proactive.seasonal import Direction, detect, history_span_note
from tools.prometheus import instant_vector, range_points
from tools.rightsize.collect import MAX_POINTS
from tools.rightsize.model import memory_quantity

WORKLOAD = '"workload", "$1", "pod", "(.+)-[^-]+-[^-]+"'


@dataclass(frozen=True)
class Signal:
    name: str
    query: str
    direction: Direction
    min_abs: float


def _ns(namespace: str | None) -> str:
    return f'namespace="{namespace}"' if namespace else 'namespace!=""'


def golden_signals(namespace: str | None) -> list[Signal]:
    sel = _ns(namespace)
    return [
        Signal("rate", f"sum by (namespace, service) (rate(http_requests_total{{{sel}}}[5m]))", "both", 1.0),
        Signal(
            "errors",
            f'sum by (namespace, service) (rate(http_requests_total{{{sel},code=~"5.."}}[5m]))'
            f" / sum by (namespace, service) (rate(http_requests_total{{{sel}}}[5m]))",
            "up",
            0.01,
        ),
        Signal(
            "latency_p99",
            f"histogram_quantile(0.99, sum by (namespace, service, le) (rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))",
            "up",
            0.05,
        ),
        Signal(
            "cpu_saturation",
            f'max by (namespace, workload) (label_replace(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{{{sel},container!=""}}[5m])), {WORKLOAD}))'
            f' / max by (namespace, workload) (label_replace(sum by (namespace, pod) (kube_pod_container_resource_limits{{{sel},resource="cpu"}}), {WORKLOAD}))',
            "up",
            0.1,
        ),
    ]


@dataclass(frozen=True)
class Capacity:
    resource: Literal["memory", "cpu", "disk", "replicas"]
    usage: str
    limit: str
    keys: tuple[str, ...]


def capacity_checks(namespace: str | None) -> list[Capacity]:
    sel = _ns(namespace)
    by = "namespace, workload, container"
    return [
        Capacity(
            "memory",
            f'max by ({by}) (label_replace(container_memory_working_set_bytes{{{sel},container!=""}}, {WORKLOAD}))',
            f'max by ({by}) (label_replace(kube_pod_container_resource_limits{{{sel},resource="memory"}}, {WORKLOAD}))',
            ("namespace", "workload", "container"),
        ),
        Capacity(
            "cpu",
            f'max by ({by}) (label_replace(rate(container_cpu_usage_seconds_total{{{sel},container!=""}}[5m]), {WORKLOAD}))',
            f'max by ({by}) (label_replace(kube_pod_container_resource_limits{{{sel},resource="cpu"}}, {WORKLOAD}))',
            ("namespace", "workload", "container"),
        ),
        Capacity(
            "disk",
            f"max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{{{sel}}})",
            f"max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{{{sel}}})",
            ("namespace", "persistentvolumeclaim"),
        ),
        Capacity(
            "replicas",
            f"max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_desired_replicas{{{sel}}})",
            f"max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{{{sel}}})",
            ("namespace", "horizontalpodautoscaler"),
        ),
    ]


def _matrix(
    deps: ToolDeps, query: str, days: float, step_s: int
) -> list[tuple[dict[str, str], list[float], list[float]]]:
    end = datetime.now(UTC)
    return range_points(deps, query, end - timedelta(days=days), end, step_s)


def _step(days: float) -> int:
    return max(300, int(days * 86400 / MAX_POINTS) + 1)


def _where(labels: dict[str, str], keys: tuple[str, ...]) -> str:
    return "/".join(labels.get(k, "?") for k in keys)


@tool(risk="read", tags=("prometheus", "proactive"))
@expected_errors
def detect_anomalies(
    deps: ToolDeps,
    namespace: str | None = None,
    days: Annotated[int, Field(ge=8, le=60)] = 14,
) -> ToolResult:
    """Golden signals (rate, errors, p99 latency, CPU saturation) now vs their hour-of-week baseline.
    Example: detect_anomalies(namespace="shop")"""
    findings, notes = [], set()
    for sig in golden_signals(namespace):
        for labels, ts, values in _matrix(deps, sig.query, days, _step(days)):
            note = history_span_note(ts)
            if note:
                notes.add(note)
                continue
            found = detect(ts, values, direction=sig.direction, min_abs=sig.min_abs)
            if found is not None:
                where = labels.get("service") or labels.get("workload") or "?"
                findings.append(
                    {
                        "signal": sig.name,
                        "namespace": labels.get("namespace"),
                        "target": where,
                        **found.as_dict(),
                        "explanation": found.explain(),
                    }
                )
    if not findings:
        why = f" ({'; '.join(sorted(notes))})" if notes else ""
        return ToolResult.no_data(f"no anomaly on the golden signals against their seasonal baseline{why}")
    lines = [f"{f['signal']} {f['namespace']}/{f['target']}: {f['explanation']}" for f in findings]
    return shaped(deps, "detect_anomalies", f"{len(findings)} anomalies\n" + "\n".join(lines), findings)


def proposal(resource: str, labels: dict[str, str], peak: float, limit: float) -> dict[str, Any] | None:
    """The pre-emptive change for a forecast crossing, as a tool call the guard can judge."""
    ns = labels.get("namespace", "")
    if resource == "memory" and labels.get("workload") and labels.get("container"):
        new = memory_quantity(max(peak, limit) * 1.15)
        return {
            "tool": "k8s_set_resources",
            "args": {
                "deployment": labels["workload"],
                "namespace": ns,
                "container": labels["container"],
                "memory_limit": new,
            },
            "why": f"memory limit {memory_quantity(limit)} -> {new}: the forecast peak x 1.15",
        }
    if resource == "replicas":
        return {
            "tool": None,
            "args": {
                "hpa": labels.get("horizontalpodautoscaler"),
                "namespace": ns,
                "max_replicas": math.ceil(peak * 1.25),
            },
            "why": "raise the HPA's maxReplicas (no action tool changes only maxReplicas yet: a human applies it)",
        }
    return None


@tool(risk="read", tags=("prometheus", "proactive"))
@expected_errors
def capacity_forecast(
    deps: ToolDeps,
    namespace: str | None = None,
    horizon_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 72,
    days: Annotated[int, Field(ge=1, le=60)] = 14,
) -> ToolResult:
    """Time to saturation of memory, CPU, disk and HPA replicas against their limits, with a band.
    Example: capacity_forecast(namespace="shop", horizon_hours=48)"""
    risks, checked = [], 0
    for check in capacity_checks(namespace):
        limits = {_where(lbl, check.keys): v for lbl, v in instant_vector(deps, check.limit)}
        for labels, ts, values in _matrix(deps, check.usage, days, _step(days)):
            limit = limits.get(_where(labels, check.keys))
            if not limit:
                continue
            f = forecast(ts, values, limit, horizon_s=horizon_hours * 3600)
            if f is None:
                continue
            checked += 1
            if f.earliest_hours is None:
                continue
            risk = {
                "resource": check.resource,
                "target": _where(labels, check.keys),
                **f.as_dict(),
                "explanation": f.explain(),
            }
            if f.crosses:
                risk["proposal"] = proposal(check.resource, labels, f.peak_band[1], limit)
            risks.append(risk)
    if not risks:
        return ToolResult.no_data(
            f"{checked} series checked: none reaches its limit within {horizon_hours} h"
        )
    risks.sort(key=lambda r: (r["eta_hours"] is None, r["eta_hours"] or r["earliest_hours"] or 0))
    lines = [f"{r['resource']} {r['target']}: {r['explanation']}" for r in risks]
    return shaped(
        deps, "capacity_forecast", f"{len(risks)} of {checked} series at risk\n" + "\n".join(lines), risks
    )
