"""Triage analyzers on hand-built snapshots and a scripted Prometheus/Loki: each finding kind fires
on its symptom, carries the data runbooks template from, and stays quiet when things are fine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.observability import FakeBackend, vector

from tools.analysis import correlate, rank
from tools.analyzers.signals import analyze_signals
from tools.analyzers.snapshot import Snapshot
from tools.analyzers.workloads import analyze_workloads
from tools.deps import Deps
from tools.findings import Finding

NS = "shop"
Obj = dict[str, Any]


def deployment(name: str, replicas: int = 2) -> Obj:
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": f"{name}:1"}]}}},
            "status": {"replicas": replicas, "updatedReplicas": replicas}}  # fmt: skip


def pod(name: str, app: str, **status: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
            "spec": {"nodeName": "n1", "containers": [{"name": app, "resources": {"limits": {"memory": "256Mi"}}}]},
            "status": {"phase": "Running", **status}}  # fmt: skip


def kinds(findings: list[Finding]) -> list[str]:
    return sorted(f.kind for f in findings)


def test_oom_killed_with_memory_limit() -> None:
    snap = Snapshot(NS, deployments=[deployment("api")], pods=[pod("api-1", "api", containerStatuses=[
        {"name": "api", "ready": True, "restartCount": 1, "state": {"running": {}}, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}])])  # fmt: skip
    [f] = analyze_workloads(snap)
    assert f.kind == "oom_killed" and f.data == {
        "deployment": "api",
        "namespace": NS,
        "container": "api",
        "memory_limit": "256Mi",
        "pods": ["api-1"],
    }


def test_hpa_maxed_scaled_to_zero_and_nodes() -> None:
    hpa = {"metadata": {"name": "api"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "minReplicas": 2, "maxReplicas": 5},
           "status": {"currentReplicas": 5, "desiredReplicas": 7}}  # fmt: skip
    nodes = [
        {
            "metadata": {"name": "n1"},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
        {
            "metadata": {"name": "n2"},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]},
        },
    ]
    snap = Snapshot(NS, deployments=[deployment("api", 5), deployment("worker", 0)], hpas=[hpa], nodes=nodes)
    found = {f.kind: f for f in analyze_workloads(snap)}
    assert set(found) == {"hpa_maxed", "scaled_to_zero", "node_cordoned", "node_not_ready"}
    assert found["hpa_maxed"].data["current_replicas"] == 5 and found["hpa_maxed"].data["hpa_max"] == 5
    assert found["node_not_ready"].data["node"] == "n2" and found["node_cordoned"].data["node"] == "n1"
    assert found["scaled_to_zero"].data["deployment"] == "worker"


def test_healthy_snapshot_has_no_findings() -> None:
    snap = Snapshot(
        NS,
        deployments=[deployment("api")],
        pods=[
            pod(
                "api-1",
                "api",
                containerStatuses=[
                    {"name": "api", "ready": True, "restartCount": 0, "state": {"running": {}}}
                ],
            )
        ],
    )
    assert analyze_workloads(snap) == []


def test_a_rollout_followed_by_symptoms_is_raised_and_ranked_first() -> None:
    rollout = Finding(
        kind="recent_rollout",
        target=f"Deployment/{NS}/api",
        summary="rev 1 -> 2",
        severity="info",
        data={"deployment": "api"},
    )
    other = Finding(
        kind="recent_rollout",
        target=f"Deployment/{NS}/web",
        summary="rev 3 -> 4",
        severity="info",
        data={"deployment": "web"},
    )
    errors = Finding(
        kind="high_error_rate",
        target=f"Service/{NS}/api",
        summary="30% 5xx",
        severity="critical",
        data={"service": "api"},
    )
    out = rank(correlate([other, rollout, errors]), service="api")
    assert [(f.kind, f.data.get("deployment") or f.data.get("service"), f.severity) for f in out] == [
        ("high_error_rate", "api", "critical"), ("recent_rollout", "api", "warning"), ("recent_rollout", "web", "info"),
    ]  # fmt: skip
    assert "followed by high_error_rate" in out[1].summary


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


def scripted(answers: dict[str, list[tuple[dict[str, str], float]]]) -> Any:
    """Answer each instant query with the first scripted vector whose key occurs in it."""

    def handle(params: dict[str, list[str]]) -> Any:
        query = params["query"][0]
        for needle, series in answers.items():
            if needle in query:
                return vector(series)
        return vector([])

    return handle


def test_metric_analyzers_find_each_symptom(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route("/api/v1/query", scripted({
        'code=~"5.."': [({"service": "api"}, 3.0)],
        "http_requests_total{namespace": [({"service": "api"}, 10.0), ({"service": "web"}, 10.0)],
        "histogram_quantile": [({"service": "web"}, 2.5), ({"service": "api"}, 0.1)],
        "db_connections_in_use": [({"service": "db"}, 98.0)],
        "db_connections_max": [({"service": "db"}, 100.0)],
        'upstream="db"': [({"service": "worker"}, 4.0)],
        'result="error"}[1m]))': [({}, 9.0)],
        "sum(rate(cache_requests_total": [({}, 10.0)],
        "deriv(queue_depth": [({"queue": "ticks"}, 5.0)],
        "queue_depth{": [({"queue": "ticks"}, 900.0)],
        'result!="ok"': [({"service": "api", "upstream": "cache", "result": "auth_failed"}, 2.0), ({"service": "web", "upstream": "db", "result": "refused"}, 5.0)],
        "sum by (service, upstream) (rate(upstream_requests_total": [({"service": "api", "upstream": "cache"}, 10.0), ({"service": "web", "upstream": "db"}, 10.0)],
        "container_cpu_usage_seconds_total": [({"pod": "api-1"}, 0.95)],
        "kube_pod_container_resource_limits": [({"pod": "api-1"}, 1.0)],
    }))  # fmt: skip
    snap = Snapshot(
        NS, deployments=[deployment("api"), deployment("ingest-worker")], pods=[pod("api-1", "api")]
    )
    found, notes = analyze_signals(Deps(prometheus_url=prom.url, raw_dir=tmp_path), snap)
    by_kind = {f.kind: f for f in found}
    assert set(by_kind) == {"high_error_rate", "high_latency", "db_connections_exhausted", "cache_down", "queue_backlog",
                            "auth_errors", "connection_errors", "cpu_saturation"}  # fmt: skip
    assert (
        by_kind["high_error_rate"].data["service"] == "api"
        and by_kind["high_error_rate"].data["error_ratio"] == 0.3
    )
    assert by_kind["high_latency"].data["service"] == "web"
    assert by_kind["db_connections_exhausted"].data["clients"] == ["worker"]
    assert by_kind["queue_backlog"].data["consumer"] == "ingest-worker"
    assert (
        by_kind["auth_errors"].data["upstream"] == "cache"
        and by_kind["connection_errors"].data["upstream"] == "db"
    )
    assert (
        by_kind["cpu_saturation"].data["deployment"] == "api"
        and by_kind["cpu_saturation"].data["hpa_max"] is None
    )
    assert "loki skipped" in " ".join(notes)
    assert all(f.evidence for f in found)


def test_quiet_metrics_give_no_findings(prom: FakeBackend, tmp_path: Path) -> None:
    prom.route(
        "/api/v1/query",
        scripted(
            {
                'code=~"5.."': [({"service": "api"}, 0.01)],
                "http_requests_total{namespace": [({"service": "api"}, 10.0)],
            }
        ),
    )
    found, _ = analyze_signals(Deps(prometheus_url=prom.url, raw_dir=tmp_path), Snapshot(NS))
    assert found == []


def test_unreachable_prometheus_is_noted_once(tmp_path: Path) -> None:
    from fakes.observability import closed_port_url

    found, notes = analyze_signals(Deps(prometheus_url=closed_port_url(), raw_dir=tmp_path), Snapshot(NS))
    assert found == [] and len([n for n in notes if n.startswith("prometheus skipped")]) == 1
