"""The metrics targets: kube-state-metrics from the store, cAdvisor from usage, and the HTTP server."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from integration.test_traffic_fixture import NS, build
from prometheus_client.parser import text_string_to_metric_families

from sandbox.kube.store import Store
from sandbox.metrics import metrics_targets, start_metrics_server
from sandbox.traffic.state import MetricState

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    hits = [v for (n, lbls), v in samples.items() if n == name and labels.items() <= dict(lbls).items()]
    assert hits, f"no sample {name}{labels}"
    return sum(hits)


def _seed_objects(store: Store) -> None:
    crashing: dict[str, Any] = {
        "metadata": {
            "name": "predictor-abc-x1",
            "namespace": NS,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "predictor-abc"}],
        },
        "spec": {
            "nodeName": "node-a",
            "containers": [
                {
                    "name": "predictor",
                    "image": "registry.local/market-predictor/predictor:1.5.0",
                    "resources": {"limits": {"cpu": "1", "memory": "768Mi"}, "requests": {"cpu": "500m"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "predictor",
                    "restartCount": 4,
                    "ready": False,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                }
            ],
        },
    }
    store.create("pods", crashing)
    store.create(
        "deployments",
        {
            "metadata": {"name": "predictor", "namespace": NS},
            "spec": {"replicas": 3},
            "status": {
                "replicas": 3,
                "availableReplicas": 2,
                "updatedReplicas": 3,
                "unavailableReplicas": 1,
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ],
            },
        },
    )
    store.create(
        "horizontalpodautoscalers",
        {
            "metadata": {"name": "predictor", "namespace": NS},
            "spec": {"minReplicas": 3, "maxReplicas": 5},
            "status": {"currentReplicas": 5, "desiredReplicas": 5},
        },
    )
    store.create(
        "nodes",
        {
            "metadata": {"name": "node-b"},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]},
        },
    )
    store.create("endpoints", {"metadata": {"name": "predictor", "namespace": NS}, "subsets": []})


def test_kube_state_metrics_reflect_the_store() -> None:
    store = Store()
    _seed_objects(store)
    ksm = _parse(metrics_targets(store, MetricState())["/metrics/kube-state-metrics"]().decode())
    pod = {"namespace": NS, "pod": "predictor-abc-x1"}
    assert _value(ksm, "kube_pod_status_phase", phase="Running", **pod) == 1
    assert _value(ksm, "kube_pod_status_ready", condition="false", **pod) == 1
    assert _value(ksm, "kube_pod_container_status_restarts_total", **pod) == 4
    assert _value(ksm, "kube_pod_container_status_waiting_reason", reason="CrashLoopBackOff", **pod) == 1
    assert _value(ksm, "kube_pod_container_status_last_terminated_reason", reason="OOMKilled", **pod) == 1
    assert _value(ksm, "kube_pod_container_resource_limits", resource="cpu", unit="core", **pod) == 1.0
    assert _value(ksm, "kube_pod_container_resource_limits", resource="memory", **pod) == 768 * 1024**2
    assert _value(ksm, "kube_pod_container_resource_requests", resource="cpu", **pod) == 0.5
    assert _value(ksm, "kube_pod_info", created_by_kind="ReplicaSet", node="node-a", **pod) == 1
    dep = {"namespace": NS, "deployment": "predictor"}
    assert _value(ksm, "kube_deployment_spec_replicas", **dep) == 3
    assert _value(ksm, "kube_deployment_status_replicas_available", **dep) == 2
    assert _value(ksm, "kube_deployment_status_replicas_unavailable", **dep) == 1
    assert _value(ksm, "kube_deployment_metadata_generation", **dep) == 1
    hpa = {"namespace": NS, "horizontalpodautoscaler": "predictor"}
    assert _value(ksm, "kube_horizontalpodautoscaler_spec_max_replicas", **hpa) == 5
    assert _value(ksm, "kube_horizontalpodautoscaler_status_current_replicas", **hpa) == 5
    assert _value(ksm, "kube_node_status_condition", node="node-b", condition="Ready", status="false") == 1
    assert _value(ksm, "kube_node_spec_unschedulable", node="node-b") == 1
    assert _value(ksm, "kube_endpoint_address_available", namespace=NS, endpoint="predictor") == 0
    assert _value(ksm, "kube_pod_owner", owner_kind="ReplicaSet", owner_name="predictor-abc", **pod) == 1
    assert (
        _value(ksm, "kube_pod_container_info", image="registry.local/market-predictor/predictor:1.5.0", **pod)
        == 1
    )
    cond = {"condition": "Progressing", "status": "false"}
    assert _value(ksm, "kube_deployment_status_condition", **dep, **cond) == 1


def test_kube_state_metrics_follow_changes_without_restart() -> None:
    store = Store()
    _seed_objects(store)
    target = metrics_targets(store, MetricState())["/metrics/kube-state-metrics"]
    store.mutate("deployments", NS, "predictor", lambda d: d["spec"].update(replicas=0))
    store.delete("pods", NS, "predictor-abc-x1")
    ksm = _parse(target().decode())
    assert _value(ksm, "kube_deployment_spec_replicas", namespace=NS, deployment="predictor") == 0
    assert _value(ksm, "kube_deployment_metadata_generation", namespace=NS, deployment="predictor") == 2
    assert not [k for k in ksm if k[0] == "kube_pod_status_phase"]


def test_cadvisor_counts_cpu_memory_and_forgets_deleted_pods() -> None:
    c = build()
    c.run(10)
    pod = {"namespace": NS, "pod": "predictor-7d9f8-00000", "container": "predictor"}
    first = _parse(metrics_targets(c.store, c.traffic)["/metrics/cadvisor"]().decode())
    c.run(10)
    second = _parse(metrics_targets(c.store, c.traffic)["/metrics/cadvisor"]().decode())
    used = _value(second, "container_cpu_usage_seconds_total", **pod) - _value(
        first, "container_cpu_usage_seconds_total", **pod
    )
    millicores = c.runtime.usage(NS, "predictor-7d9f8-00000").cpu_millicores
    assert used == pytest.approx(millicores / 1000 * 10, rel=0.2)
    assert _value(second, "container_memory_working_set_bytes", **pod) > 300 * 1024**2
    assert _value(second, "container_spec_memory_limit_bytes", **pod) == 1024 * 1024**2
    assert _value(second, "container_cpu_cfs_periods_total", **pod) >= 190
    c.remove_pods("predictor")
    c.run(1)
    third = _parse(metrics_targets(c.store, c.traffic)["/metrics/cadvisor"]().decode())
    assert not [k for k in third if dict(k[1]).get("pod") == pod["pod"]]


def test_metrics_targets_needs_the_traffic_state() -> None:
    with pytest.raises(TypeError, match="MetricState"):
        metrics_targets(Store(), object())


def test_server_serves_every_target_and_names_known_paths_on_404() -> None:
    c = build()
    c.run(3)
    targets = metrics_targets(c.store, c.traffic)
    server = start_metrics_server("127.0.0.1", 0, targets)
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        for path in targets:
            with urllib.request.urlopen(server.url + path, timeout=10) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain")
                assert list(text_string_to_metric_families(resp.read().decode()))
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
            assert f"/metrics/app/{NS}/predictor" in resp.read().decode()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + "/metrics/nope", timeout=10)
        assert err.value.code == 404
        assert "/metrics/cadvisor" in err.value.read().decode()
    finally:
        server.shutdown()
