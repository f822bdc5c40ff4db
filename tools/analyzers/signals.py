"""Analyzers over signals: Prometheus metrics (SLOs, saturation, dependencies) and Loki log counts.

Thresholds follow the sandbox's alert rules (which follow upstream kube-prometheus and the SRE
workbook): 5xx ratio over 5% (critical) or 2% (warning), p99 over 1 s, CPU over 85% of the limit,
DB connections at 90% of the maximum, cache errors over 50%, a growing queue over 200 or consumer
lag over 30 s, upstream failures over 10%.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.analyzers.snapshot import Snapshot
from tools.base import ToolDeps
from tools.errors import BackendNotConfigured, BackendUnavailable, ToolError
from tools.findings import Finding
from tools.promshape import fmt

Vector = list[tuple[dict[str, str], float]]


@dataclass
class Signals:
    """Query access for analyzers; remembers a dead backend so it is not asked again."""

    deps: ToolDeps
    namespace: str
    notes: list[str] = field(default_factory=list)
    _dead: set[str] = field(default_factory=set)

    def prom(self, query: str) -> Vector:
        from tools.prometheus import instant_vector

        return self._guard("prometheus", lambda: instant_vector(self.deps, query))

    def loki(self, query: str) -> Vector:
        def run() -> Vector:
            data = self.deps.loki().get("/loki/api/v1/query", {"query": query})
            out = []
            for s in (data or {}).get("result", []):
                try:
                    out.append((dict(s.get("metric", {})), float(s["value"][1])))
                except (KeyError, IndexError, TypeError, ValueError):
                    continue
            return out

        return self._guard("loki", run)

    def _guard(self, backend: str, fn: Callable[[], Vector]) -> Vector:
        if backend in self._dead:
            return []
        try:
            return fn()
        except (BackendNotConfigured, BackendUnavailable) as exc:
            self._dead.add(backend)
            self.notes.append(f"{backend} skipped: {exc}")
        except ToolError as exc:
            self.notes.append(f"{backend} query failed: {exc}")
        return []


def _by(vector: Vector, *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(labels.get(k, "") for k in keys): v for labels, v in vector}


def _deployment_for(snap: Snapshot, service: str) -> str | None:
    if snap.deployment(service):
        return service
    return None


def error_rate(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    errors = _by(
        sig.prom(f'sum by (service) (rate(http_requests_total{{namespace="{ns}",code=~"5.."}}[1m]))'),
        "service",
    )
    totals = _by(sig.prom(f'sum by (service) (rate(http_requests_total{{namespace="{ns}"}}[1m]))'), "service")
    out = []
    for (svc,), total in totals.items():
        ratio = errors.get((svc,), 0.0) / total if total > 0 else 0.0
        if total < 0.2 or ratio <= 0.02:
            continue
        query = f'sum(rate(http_requests_total{{namespace="{ns}",service="{svc}",code=~"5.."}}[1m])) / sum(rate(http_requests_total{{namespace="{ns}",service="{svc}"}}[1m]))'
        out.append(
            Finding(
                kind="high_error_rate",
                target=f"Service/{ns}/{svc}",
                severity="critical" if ratio > 0.05 else "warning",
                summary=f"{ratio:.1%} of {svc}'s requests fail with 5xx ({fmt(total)} req/s)",
                evidence=[f"{query} = {ratio:.3f}"],
                data={
                    "service": svc,
                    "namespace": ns,
                    "deployment": _deployment_for(snap, svc),
                    "error_ratio": round(ratio, 4),
                    "rps": round(total, 3),
                },
            )
        )
    return out


def latency(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    query = f'histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{{namespace="{ns}"}}[1m])))'
    out = []
    for (svc,), p99 in _by(sig.prom(query), "service").items():
        if not p99 > 1.0:  # also skips NaN
            continue
        out.append(
            Finding(
                kind="high_latency",
                target=f"Service/{ns}/{svc}",
                severity="warning",
                summary=f"p99 latency of {svc} is {p99:.2f}s (objective 1s)",
                evidence=[f"{query} -> service={svc}: {p99:.3f}"],
                data={
                    "service": svc,
                    "namespace": ns,
                    "deployment": _deployment_for(snap, svc),
                    "p99_seconds": round(p99, 3),
                },
            )
        )
    return out


def cpu(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    use = sig.prom(
        f'sum by (pod) (rate(container_cpu_usage_seconds_total{{namespace="{ns}",container!=""}}[1m]))'
    )
    limits = _by(
        sig.prom(f'sum by (pod) (kube_pod_container_resource_limits{{namespace="{ns}",resource="cpu"}})'),
        "pod",
    )
    ratios: dict[str, list[float]] = defaultdict(list)
    for labels, value in use:
        limit = limits.get((labels.get("pod", ""),))
        pod = next((p for p in snap.pods if p["metadata"]["name"] == labels.get("pod")), None)
        dep = snap.deployment_of(pod) if pod else None
        if limit and dep:
            ratios[dep].append(value / limit)
    out = []
    for dep, values in ratios.items():
        avg = sum(values) / len(values)
        if avg <= 0.85:
            continue
        hpa = next(
            (h for h in snap.hpas if h.get("spec", {}).get("scaleTargetRef", {}).get("name") == dep), None
        )
        d = snap.deployment(dep) or {}
        current = int(
            (hpa or {}).get("status", {}).get("currentReplicas") or d.get("spec", {}).get("replicas", 0)
        )
        hpa_max = int(hpa["spec"]["maxReplicas"]) if hpa else None
        out.append(
            Finding(
                kind="cpu_saturation",
                target=f"Deployment/{ns}/{dep}",
                severity="warning",
                summary=f"{dep} uses {avg:.0%} of its CPU limit on average over {len(values)} pods"
                + (f"; HPA at {current}/{hpa_max}" if hpa else "; no HPA"),
                evidence=[
                    f'rate(container_cpu_usage_seconds_total{{namespace="{ns}"}}[1m]) / kube_pod_container_resource_limits{{resource="cpu"}} for {dep}: {avg:.2f}'
                ],
                data={
                    "deployment": dep,
                    "namespace": ns,
                    "cpu_ratio": round(avg, 3),
                    "current_replicas": current,
                    "hpa_max": hpa_max,
                    "hpa": hpa["metadata"]["name"] if hpa else None,
                },
            )
        )
    return out


def db_connections(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    in_use = _by(sig.prom(f'max by (service) (db_connections_in_use{{namespace="{ns}"}})'), "service")
    maxes = _by(sig.prom(f'max by (service) (db_connections_max{{namespace="{ns}"}})'), "service")
    out = []
    for key, used in in_use.items():
        mx = maxes.get(key)
        if not mx or used / mx < 0.9:
            continue
        clients = _by(
            sig.prom(
                f'sum by (service) (rate(upstream_requests_total{{namespace="{ns}",upstream="{key[0]}"}}[1m]))'
            ),
            "service",
        )
        out.append(
            Finding(
                kind="db_connections_exhausted",
                target=f"Service/{ns}/{key[0]}",
                severity="critical",
                summary=f"database {key[0]} uses {fmt(used)} of {fmt(mx)} connections ({used / mx:.0%})",
                evidence=[
                    f'db_connections_in_use{{namespace="{ns}",service="{key[0]}"}} = {fmt(used)}, db_connections_max = {fmt(mx)}'
                ],
                data={
                    "service": key[0],
                    "namespace": ns,
                    "in_use": used,
                    "max": mx,
                    "clients": sorted(c[0] for c in clients if c[0]),
                },
            )
        )
    return out


def cache(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    errors = sum(
        v for _, v in sig.prom(f'sum(rate(cache_requests_total{{namespace="{ns}",result="error"}}[1m]))')
    )
    total = sum(v for _, v in sig.prom(f'sum(rate(cache_requests_total{{namespace="{ns}"}}[1m]))'))
    if total <= 0 or errors / total <= 0.5:
        return []
    dep = next(
        (
            d["metadata"]["name"]
            for d in snap.deployments
            if "cache" in d["metadata"]["name"] or "redis" in d["metadata"]["name"]
        ),
        None,
    )
    return [
        Finding(
            kind="cache_down",
            target=f"Deployment/{ns}/{dep or 'cache'}",
            severity="critical",
            summary=f"{errors / total:.0%} of cache requests fail",
            evidence=[
                f'sum(rate(cache_requests_total{{namespace="{ns}",result="error"}}[1m])) / sum(rate(cache_requests_total[1m])) = {errors / total:.2f}'
            ],
            data={
                "deployment": dep,
                "service": dep,
                "namespace": ns,
                "error_ratio": round(errors / total, 3),
            },
        )
    ]


def queue(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    depth = _by(sig.prom(f'queue_depth{{namespace="{ns}"}}'), "queue")
    growth = _by(sig.prom(f'deriv(queue_depth{{namespace="{ns}"}}[1m])'), "queue")
    lag = _by(sig.prom(f'queue_consumer_lag_seconds{{namespace="{ns}"}}'), "queue")
    consumed = _by(
        sig.prom(f'sum by (queue) (rate(queue_messages_consumed_total{{namespace="{ns}"}}[1m]))'), "queue"
    )
    out = []
    for key in depth.keys() | lag.keys():
        d, g, lg = depth.get(key, 0.0), growth.get(key, 0.0), lag.get(key, 0.0)
        if not ((d > 200 and g > 0) or lg > 30):
            continue
        workers = [
            x["metadata"]["name"]
            for x in snap.deployments
            if "worker" in x["metadata"]["name"] or "consumer" in x["metadata"]["name"]
        ]
        out.append(
            Finding(
                kind="queue_backlog",
                target=f"Queue/{ns}/{key[0]}",
                severity="warning",
                summary=f"queue {key[0]}: depth {fmt(d)} ({'+' if g >= 0 else ''}{fmt(g)}/s), consumer lag {fmt(lg)}s, consuming {fmt(consumed.get(key, 0.0))}/s",
                evidence=[
                    f'queue_depth{{queue="{key[0]}"}} = {fmt(d)}; deriv(queue_depth[1m]) = {fmt(g)}; queue_consumer_lag_seconds = {fmt(lg)}'
                ],
                data={
                    "queue": key[0],
                    "namespace": ns,
                    "depth": d,
                    "growth_per_s": g,
                    "lag_seconds": lg,
                    "consumed_per_s": consumed.get(key, 0.0),
                    "consumer": workers[0] if len(workers) == 1 else None,
                    "deployment": workers[0] if len(workers) == 1 else None,
                },
            )
        )
    return out


def upstream_failures(sig: Signals, snap: Snapshot) -> list[Finding]:
    ns = sig.namespace
    failed = sig.prom(
        f'sum by (service, upstream, result) (rate(upstream_requests_total{{namespace="{ns}",result!="ok"}}[1m]))'
    )
    totals = _by(
        sig.prom(f'sum by (service, upstream) (rate(upstream_requests_total{{namespace="{ns}"}}[1m]))'),
        "service",
        "upstream",
    )
    by_pair: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for labels, v in failed:
        by_pair[(labels.get("service", ""), labels.get("upstream", ""))][labels.get("result", "")] = v
    out = []
    for (svc, up), results in by_pair.items():
        total = totals.get((svc, up), 0.0)
        if total <= 0:
            continue
        auth = results.get("auth_failed", 0.0) / total
        conn = sum(v for r, v in results.items() if r in ("refused", "timeout", "error")) / total
        common = {"service": svc, "upstream": up, "namespace": ns, "deployment": _deployment_for(snap, svc)}
        query = (
            f'rate(upstream_requests_total{{namespace="{ns}",service="{svc}",upstream="{up}"}}[1m]) by result'
        )
        if auth > 0.05:
            out.append(
                Finding(
                    kind="auth_errors",
                    target=f"Service/{ns}/{up}",
                    severity="critical",
                    summary=f"{svc} -> {up}: {auth:.0%} of calls rejected (auth_failed)",
                    evidence=[f"{query}: auth_failed {auth:.2f}"],
                    data={**common, "ratio": round(auth, 3)},
                )
            )
        if conn > 0.1:
            kinds = ", ".join(
                f"{r} {v / total:.0%}" for r, v in sorted(results.items()) if r != "auth_failed" and v > 0
            )
            out.append(
                Finding(
                    kind="connection_errors",
                    target=f"Service/{ns}/{up}",
                    severity="warning",
                    summary=f"{svc} -> {up}: {conn:.0%} of calls fail ({kinds})",
                    evidence=[f"{query}: {kinds}"],
                    data={**common, "ratio": round(conn, 3), "results": results},
                )
            )
    return out


LOG_PATTERNS: dict[str, str] = {
    "auth_errors": "(?i)(authentication failed|unauthori[sz]ed|permission denied|invalid (token|credentials)|WRONGPASS|password authentication failed)",
    "connection_errors": "(?i)(connection refused|connect: connection|timed out|deadline exceeded|too many (clients|connections)|connection reset|no route to host)",
}


def log_errors(sig: Signals, snap: Snapshot, have: set[tuple[str, str]]) -> list[Finding]:
    """Auth and connection errors counted in logs, for apps the metrics did not already flag."""
    ns = sig.namespace
    out: list[Finding] = []
    for kind, pattern in LOG_PATTERNS.items():
        query = f'sum by (app) (count_over_time({{namespace="{ns}"}} |~ `{pattern}` [5m]))'
        for labels, count in sig.loki(query):
            app = labels.get("app", "")
            if count < 5 or (kind, app) in have:
                continue
            out.append(
                Finding(
                    kind=kind,
                    target=f"Deployment/{ns}/{app}",
                    severity="warning",  # type: ignore[arg-type]
                    summary=f"{int(count)} log lines of {app} in 5m match {kind.replace('_', ' ')}",
                    evidence=[f"loki: {query} -> app={app}: {int(count)} (see loki_patterns)"],
                    data={
                        "deployment": app,
                        "service": app,
                        "namespace": ns,
                        "log_lines": int(count),
                        "source": "logs",
                    },
                )
            )
    return out


METRIC_ANALYZERS: list[Callable[[Signals, Snapshot], list[Finding]]] = [
    error_rate,
    latency,
    cpu,
    db_connections,
    cache,
    queue,
    upstream_failures,
]


def analyze_signals(deps: ToolDeps, snap: Snapshot) -> tuple[list[Finding], list[str]]:
    """Every metric and log analyzer; returns findings and notes about skipped backends."""
    sig = Signals(deps, snap.namespace)
    out: list[Finding] = []
    for analyzer in METRIC_ANALYZERS:
        out += analyzer(sig, snap)
    flagged: set[tuple[str, str]] = {(str(f.kind), str(f.data.get("service") or "")) for f in out} | {
        (f.kind, str(f.data.get("upstream") or "")) for f in out
    }
    out += log_errors(sig, snap, flagged)
    return out, sig.notes


__all__: list[Any] = ["analyze_signals"]
