"""The sandbox's Prometheus: every target scraped, every rule loaded and well-formed; heal and load."""

from __future__ import annotations

import httpx
import pytest
import yaml
from kubernetes import client as k8s
from sandbox_fixture import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(240)]

ALERTS = {
    "KubePodCrashLooping", "KubePodNotReady", "KubeDeploymentReplicasMismatch", "KubeDeploymentRolloutStuck",
    "KubeContainerWaiting", "KubeNodeNotReady", "KubeHpaMaxedOut", "CPUThrottlingHigh", "TargetDown",
    "ContainerOOMKilled", "ServiceHighErrorRate", "ApiErrorBudgetBurn", "ServiceHighLatency",
    "ServiceNoEndpoints", "UpstreamConnectionErrors", "DatabaseConnectionsExhausted", "CacheDown",
    "QueueBacklogGrowing", "CPUSaturation",
}  # fmt: skip


def test_prometheus_scrapes_every_target(sandbox: Sandbox) -> None:
    config = yaml.safe_load((sandbox.dir / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"kube-state-metrics", "cadvisor", "market-predictor/api-gateway"} <= jobs
    up = sandbox.wait_until(
        lambda: r if len(r := sandbox.prom_query("up == 1")) == len(jobs) else None, 30, "every target up"
    )
    assert {s["metric"]["job"] for s in up} == jobs


def test_every_rule_is_loaded_healthy_and_labelled(sandbox: Sandbox) -> None:
    groups = httpx.get(f"{sandbox.prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert all(r["health"] != "err" for r in rules), [
        r.get("lastError") for r in rules if r["health"] == "err"
    ]
    alerts = [r for r in rules if r["type"] == "alerting"]
    assert {r["name"] for r in alerts} == ALERTS
    for rule in alerts:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["name"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["name"]
        assert rule["annotations"]["runbook_url"].startswith("runbooks/"), rule["name"]
    recorded = {r["name"] for r in rules if r["type"] == "recording"}
    assert "service:http_requests_5xx:ratio_rate30m" in recorded
    query = 'service:http_requests_5xx:ratio_rate1m{namespace="market-predictor",service="api-gateway"}'
    ratio = sandbox.wait_until(lambda: sandbox.prom_query(query), 30, "the 5xx ratio to be recorded")
    assert float(ratio[0]["value"][1]) < 0.01  # 0, not empty, when nothing fails


def test_heal_reverts_an_injected_fault_through_the_api(sandbox: Sandbox) -> None:
    sandbox.reset()
    apps = k8s.AppsV1Api(sandbox.api_client())
    sandbox.inject("pending-pod")
    broken = apps.read_namespaced_deployment("ingest-worker", "market-predictor")
    assert broken.spec.template.spec.node_selector == {"disktype": "nvme"}
    assert sandbox.control.active_faults()[0]["fault"] == "pending-pod"
    assert (sandbox.dir / "injected.json").exists()
    assert sandbox.heal() == ["healed pending-pod on ingest-worker"]
    healed = apps.read_namespaced_deployment("ingest-worker", "market-predictor")
    assert not healed.spec.template.spec.node_selector
    assert sandbox.control.active_faults() == []
    sandbox.wait_until(
        lambda: sandbox.control.health().get("platform_ready"), 90, "ingest-worker to roll back"
    )


def test_traffic_surge_is_set_and_cleared_through_the_control_api(sandbox: Sandbox) -> None:
    state = sandbox.control.surge("predictor", 2.5, route="/v1/predict", duration_s=60)
    assert state["surges"][0]["multiplier"] == 2.5
    assert sandbox.control.traffic()["surges"][0]["service"] == "predictor"
    assert sandbox.control.clear_traffic()["removed"] == 1
    assert sandbox.control.traffic()["surges"] == []
