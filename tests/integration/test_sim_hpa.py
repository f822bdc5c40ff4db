"""The HPA scales on the CPU the load causes, like the upstream controller."""

from __future__ import annotations

import pytest

from sandbox.platform import PRODUCTION
from sandbox.sim.testing import SimCluster

pytestmark = pytest.mark.timeout(60)


def _load(cluster: SimCluster, app: str, millicores_per_pod: float) -> None:
    """What the traffic side does: write each running pod's CPU use into the runtime."""

    def write() -> None:
        for container in cluster.sim.runtime.containers(PRODUCTION):
            if container.app == app:
                cluster.sim.runtime.set_usage(
                    PRODUCTION, container.pod, cpu_millicores=millicores_per_pod, rps=10
                )

    cluster.on_tick(write)


def _replicas(cluster: SimCluster, app: str) -> int:
    return int(cluster.get("deployments", app)["spec"]["replicas"])


def test_high_cpu_scales_up_within_the_maximum() -> None:
    cluster = SimCluster.seeded()
    _load(cluster, "predictor", 450.0)  # 90% of the 500m request, target 70%: ceil(3 * 90/70) = 4
    cluster.run(3)
    assert _replicas(cluster, "predictor") == 4
    hpa = cluster.get("horizontalpodautoscalers", "predictor")
    assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 90
    events = cluster.events("SuccessfulRescale", "predictor")
    assert events and events[0]["message"].startswith("New size: 4; reason: cpu resource utilization")
    assert cluster.run_until(lambda: len(cluster.endpoints("predictor")[0]) == 4, 30)


def test_sustained_saturation_stops_at_max_replicas() -> None:
    cluster = SimCluster.seeded()
    _load(cluster, "api-gateway", 1000.0)  # 400% of the 250m request
    cluster.run(30)
    assert _replicas(cluster, "api-gateway") == 6
    conditions = {
        c["type"]: c for c in cluster.get("horizontalpodautoscalers", "api-gateway")["status"]["conditions"]
    }
    assert conditions["ScalingLimited"]["reason"] == "TooManyReplicas"


def test_within_tolerance_nothing_changes() -> None:
    cluster = SimCluster.seeded()
    _load(cluster, "predictor", 370.0)  # 74%: within 10% of the 70% target
    cluster.run(10)
    assert _replicas(cluster, "predictor") == 3
    assert not cluster.events("SuccessfulRescale")


def test_scale_down_waits_for_the_stabilization_window_and_keeps_the_minimum() -> None:
    cluster = SimCluster.seeded()
    load = {"millicores": 1000.0}

    def write() -> None:
        for container in cluster.sim.runtime.containers(PRODUCTION):
            if container.app == "predictor":
                cluster.sim.runtime.set_usage(PRODUCTION, container.pod, cpu_millicores=load["millicores"])

    cluster.on_tick(write)
    cluster.run(5)
    assert _replicas(cluster, "predictor") == 5
    load["millicores"] = 50.0  # 10%: the recommendation drops to the minimum at once
    cluster.run(10)
    assert _replicas(cluster, "predictor") == 5  # higher recommendations are still in the 30 s window
    cluster.run(40)
    assert _replicas(cluster, "predictor") == 3  # minReplicas
    messages = {e["message"] for e in cluster.events("SuccessfulRescale", "predictor")}
    assert "New size: 3; reason: All metrics below target" in messages


def test_without_metrics_the_hpa_reports_it_and_does_not_scale() -> None:
    cluster = SimCluster.seeded()
    cluster.run(3)
    conditions = {
        c["type"]: c for c in cluster.get("horizontalpodautoscalers", "predictor")["status"]["conditions"]
    }
    assert conditions["ScalingActive"]["status"] == "False"
    assert conditions["ScalingActive"]["reason"] == "FailedGetResourceMetric"
    assert _replicas(cluster, "predictor") == 3


def test_cpu_of_pods_that_just_became_ready_is_ignored() -> None:
    cluster = SimCluster.seeded(settle_s=9)  # predictor pods became ready a few seconds ago
    _load(cluster, "predictor", 1000.0)
    cluster.run(2)
    assert _replicas(cluster, "predictor") == 3
    cluster.run(20)  # a sync after the pods have been ready for the initial readiness delay
    assert _replicas(cluster, "predictor") == 5
