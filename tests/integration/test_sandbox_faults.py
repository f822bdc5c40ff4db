"""Each fault on the running sandbox: injected through the Kubernetes API, its alert reaches
Alertmanager, a wrong action leaves the end-state check failing, a correct fix makes it pass.

The default run covers a representative subset (bad-deploy, crashloop-config, cache-down and the
no-fault control) to keep the suite within a few minutes; ``SANDBOX_ALL_FAULTS=1`` runs all 13.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from kubernetes import client as k8s
from sandbox_fixture import Sandbox

from sandbox.faults import FAULT_NAMES
from sandbox.images import CURRENT

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(300)]

NS = "market-predictor"
ALL = os.environ.get("SANDBOX_ALL_FAULTS") == "1"
DEFAULT_FAULTS = {"bad-deploy", "crashloop-config", "cache-down"}


def _apps(sb: Sandbox) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(sb.api_client())


def _core(sb: Sandbox) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(sb.api_client())


def good_revision(sb: Sandbox, deployment: str) -> str:
    """The revision number of the deployment's replica set that runs its known-good image."""
    sets = _apps(sb).list_namespaced_replica_set(NS, label_selector=f"app={deployment}").items
    for rs in sets:
        if rs.spec.template.spec.containers[0].image == CURRENT[deployment]:
            return str(rs.metadata.annotations["deployment.kubernetes.io/revision"])
    raise AssertionError(f"no replica set of {deployment} runs {CURRENT[deployment]}")


# --- correct mitigations, each applied through the API (kubectl or the official client) ---------


def restart(sb: Sandbox, deployment: str) -> None:
    sb.kubectl("rollout", "restart", f"deployment/{deployment}", "-n", NS)


def fix_crashloop(sb: Sandbox) -> None:
    _core(sb).patch_namespaced_config_map("predictor-config", NS, {"data": {"WORKERS": "4"}})
    restart(sb, "predictor")


def fix_db_connections(sb: Sandbox) -> None:
    _core(sb).patch_namespaced_config_map("ingest-worker-config", NS, {"data": {"POOL_SIZE": "8"}})
    restart(sb, "ingest-worker")


def remove_node_selector(sb: Sandbox) -> None:
    sb.kubectl(
        "patch", "deployment", "ingest-worker", "-n", NS, "--type=json",
        "-p", '[{"op": "remove", "path": "/spec/template/spec/nodeSelector"}]',
    )  # fmt: skip


MITIGATIONS: dict[str, Callable[[Sandbox], None]] = {
    "bad-deploy": lambda sb: sb.kubectl(
        "rollout", "undo", "deployment/predictor", "-n", NS, f"--to-revision={good_revision(sb, 'predictor')}"
    ),
    "crashloop-config": fix_crashloop,
    "image-pull": lambda sb: sb.kubectl(
        "set", "image", "deployment/api-gateway", f"api-gateway={CURRENT['api-gateway']}", "-n", NS
    ),
    "memory-leak": lambda sb: sb.kubectl("rollout", "undo", "deployment/predictor", "-n", NS),
    "traffic-surge": lambda sb: k8s.AutoscalingV2Api(
        sb.api_client()
    ).patch_namespaced_horizontal_pod_autoscaler("predictor", NS, {"spec": {"maxReplicas": 12}}),
    "pending-pod": remove_node_selector,
    "selector-mismatch": lambda sb: _core(sb).patch_namespaced_service(
        "predictor", NS, {"spec": {"selector": {"app": "predictor"}}}
    ),
    "db-connections": fix_db_connections,
    "cache-down": lambda sb: sb.kubectl("scale", "deployment/cache", "--replicas=1", "-n", NS),
    "queue-stalled": lambda sb: sb.kubectl("rollout", "undo", "deployment/ingest-worker", "-n", NS),
    "readiness-probe": lambda sb: sb.kubectl("rollout", "undo", "deployment/api-gateway", "-n", NS),
    "node-not-ready": lambda sb: sb.kubectl("cordon", "node-b"),
}

# A plausible but wrong action per fault: the end-state check must keep failing after it.
WRONG_ACTIONS: dict[str, Callable[[Sandbox], None]] = {
    "bad-deploy": lambda sb: restart(sb, "predictor"),
    "crashloop-config": lambda sb: sb.kubectl("scale", "deployment/predictor", "--replicas=5", "-n", NS),
    "cache-down": lambda sb: restart(sb, "predictor"),
}


def _pods_showing(status: str, sb: Sandbox) -> str | None:
    """``kubectl get pods`` output when it shows ``status``."""
    out = sb.kubectl("get", "pods", "-n", NS).stdout
    return out if status in out else None


def _params() -> list[object]:
    names = [n for n in FAULT_NAMES if n != "none"]
    return [
        pytest.param(
            n, marks=() if ALL or n in DEFAULT_FAULTS else pytest.mark.skip("set SANDBOX_ALL_FAULTS=1")
        )
        for n in names
    ]


def test_every_fault_has_a_mitigation_in_this_test() -> None:
    assert set(MITIGATIONS) == set(FAULT_NAMES) - {"none"}


@pytest.mark.parametrize("name", _params())
def test_fault_alerts_and_its_mitigation_passes(sandbox: Sandbox, name: str) -> None:
    sandbox.reset()
    injected_at = time.time()
    fault = sandbox.inject(name)
    for alert in fault.expected_alerts:
        sandbox.wait_for_alert(alert, timeout=90, since=injected_at)
        if sandbox.relays_alerts:  # and Alertmanager delivered it to the webhook
            sandbox.wait_for_notification(alert, timeout=30, since=injected_at)
    if name == "crashloop-config":
        pods = sandbox.wait_until(lambda: _pods_showing("CrashLoopBackOff", sandbox), 60, "CrashLoopBackOff")
        assert "predictor-" in pods
    ok, detail = fault.check_end_state(sandbox.api_client(), sandbox.prometheus_url)
    assert not ok, f"the end-state check passed before any fix: {detail}"
    if name in WRONG_ACTIONS:
        WRONG_ACTIONS[name](sandbox)
        time.sleep(20)  # long enough for the action to roll out
        ok, detail = fault.check_end_state(sandbox.api_client(), sandbox.prometheus_url)
        assert not ok, f"a wrong action made the check pass: {detail}"
    MITIGATIONS[name](sandbox)
    sandbox.wait_end_state(fault, timeout=120)
