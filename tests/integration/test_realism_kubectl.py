"""Issue 8: changes made with the ``kubectl`` binary alone have their real symptoms, and the natural
kubectl fix heals them; a catalog fault fixed differently from its runbook passes its end-state check.

An in-process sandbox (store, simulation, traffic, kube API, log store) on a fake clock that moves
only when a test runs it; metrics are read from the exposition the sandbox serves Prometheus
(``sandbox.metrics.metrics_targets``), logs from the log store Loki and ``kubectl logs`` read.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config
from prometheus_client.parser import text_string_to_metric_families
from sandbox_fixture import Sandbox as SessionSandbox

from sandbox import faults
from sandbox.images import CURRENT, REGISTRY
from sandbox.kube import KubeApiServer, start_kube_api, write_kubeconfig
from sandbox.kube.store import Store
from sandbox.logs import LabelMatcher, LogStore
from sandbox.metrics import metrics_targets
from sandbox.platform import PRODUCTION, seed
from sandbox.sim import Simulation
from sandbox.sim.objects import condition_true
from sandbox.sim.testing import FakeClock
from sandbox.traffic import Traffic, TrafficControl

NS = PRODUCTION
KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed"),
]
Obj = dict[str, Any]


@dataclass
class Sandbox:
    """The sandbox process's parts, in-process, with kubectl pointed at its API."""

    store: Store
    logs: LogStore
    clock: FakeClock
    sim: Simulation
    traffic: Traffic
    kube: KubeApiServer
    kubeconfig: Path
    cache: Path

    def kubectl(self, *args: str) -> str:
        """Run kubectl; fails the test with kubectl's stderr when it fails."""
        cmd = [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def run(self, seconds: int) -> None:
        """Advance the cluster and its traffic by ``seconds`` simulated seconds."""
        for _ in range(seconds):
            for _ in range(2):
                self.clock.advance(0.5)
                self.sim.tick()
            self.traffic.tick(1.0)

    def run_until(self, check: Any, limit_s: int = 90) -> bool:
        for _ in range(limit_s):
            if check():
                return True
            self.run(1)
        return bool(check())

    # --- what a user would look at ------------------------------------------------------------
    def metric(self, service: str, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` with ``labels`` on the service's /metrics endpoint."""
        path = f"/metrics/app/{NS}/{service}"
        text = metrics_targets(self.store, self.traffic)[path]().decode()
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and labels.items() <= s.labels.items()
        )

    def ratio_5xx(self, service: str, seconds: int) -> float:
        """The service's 5xx ratio over the next ``seconds`` (runs the cluster)."""
        errors = self._errors(service)
        total = self.metric(service, "http_requests_total")
        self.run(seconds)
        return (self._errors(service) - errors) / max(self.metric(service, "http_requests_total") - total, 1)

    def _errors(self, service: str) -> float:
        return sum(self.metric(service, "http_requests_total", code=c) for c in ("500", "502", "503", "504"))

    def log_lines(self, app: str) -> list[str]:
        matchers = [LabelMatcher("namespace", "=", NS), LabelMatcher("app", "=", app)]
        return [line for _, entries in self.logs.select(0, 2**62, matchers) for _, line in entries]

    def pods(self, app: str) -> list[Obj]:
        pods = self.store.list("pods", NS)
        return [p for p in pods if p["metadata"]["labels"].get("app") == app]

    def events(self, reason: str) -> list[str]:
        return [e["message"] for e in self.store.list("events", NS) if e["reason"] == reason]

    def endpoints(self, service: str) -> tuple[list[str], list[str], set[int]]:
        """(ready pods, not-ready pods, ports) behind a service, as ``kubectl get endpoints`` sees it."""
        obj = json.loads(self.kubectl("get", "endpoints", service, "-o", "json"))
        subsets = obj.get("subsets") or []
        ready = [a["targetRef"]["name"] for s in subsets for a in s.get("addresses") or []]
        waiting = [a["targetRef"]["name"] for s in subsets for a in s.get("notReadyAddresses") or []]
        return sorted(ready), sorted(waiting), {p["port"] for s in subsets for p in s.get("ports") or []}

    def ready_pods(self, app: str) -> list[str]:
        """The app's live pods whose Ready condition is true: exactly what a service's endpoints list.

        Compare endpoints with this, not with the replica count: the HPA may have just added a pod
        that is still starting."""
        return sorted(
            p["metadata"]["name"]
            for p in self.pods(app)
            if condition_true(p, "Ready") and not p["metadata"].get("deletionTimestamp")
        )

    def replicas(self, deployment: str) -> int:
        """The deployment's desired replicas (the HPA moves predictor and api-gateway with the load)."""
        return int(self.store.get("deployments", NS, deployment)["spec"]["replicas"])

    def rolled_out(self, deployment: str) -> bool:
        """Every replica updated and available, and no pod of an older template left."""
        dep = self.store.get("deployments", NS, deployment)
        want, st = dep["spec"]["replicas"], dep.get("status", {})
        if st.get("observedGeneration", 0) < dep["metadata"]["generation"]:
            return False
        counts = all(st.get(k, 0) == want for k in ("updatedReplicas", "availableReplicas", "replicas"))
        live = [p for p in self.pods(deployment) if not p["metadata"].get("deletionTimestamp")]
        return counts and len(live) == want


@pytest.fixture(name="sb")
def sandbox_fixture(tmp_path: Path) -> Iterator[Sandbox]:
    clock = FakeClock(time.time())
    store, logs = Store(), LogStore()
    seed(store)
    sim = Simulation(store, logs, clock, seed=5)
    traffic = Traffic(store, sim.runtime, logs, TrafficControl(clock=clock), clock=clock, seed=5)
    kube = start_kube_api(store, log_provider=logs.pod_log)
    sb = Sandbox(store, logs, clock, sim, traffic, kube, tmp_path / "kubeconfig", tmp_path / "cache")
    write_kubeconfig(sb.kubeconfig, kube.url)
    try:
        sb.run(30)
        yield sb
    finally:
        kube.shutdown()


def _memory_limit(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["resources"]["limits"]["memory"])


def _last_terminated(pod: Obj) -> Obj:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return dict((statuses[0].get("lastState") or {}).get("terminated") or {})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- services -------------------------------------------------------------------------------------
def test_service_target_port_change_is_refused_and_the_reverse_patch_heals(sb: Sandbox) -> None:
    assert sb.ratio_5xx("api-gateway", 10) < 0.01
    port = '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9999}]'
    sb.kubectl("patch", "service", "predictor", "--type=json", "-p", port)
    sb.run(3)
    ready, _, ports = sb.endpoints("predictor")
    assert ready and ready == sb.ready_pods("predictor") and ports == {9999}  # listed, on a dead port
    refused = sb.metric("api-gateway", "upstream_requests_total", upstream="predictor", result="refused")
    assert sb.ratio_5xx("api-gateway", 10) > 0.5
    assert (
        sb.metric("api-gateway", "upstream_requests_total", upstream="predictor", result="refused") > refused
    )
    assert any("connection refused" in line.lower() for line in sb.log_lines("api-gateway"))

    back = '[{"op":"replace","path":"/spec/ports/0/targetPort","value":"http"}]'
    sb.kubectl("patch", "service", "predictor", "--type=json", "-p", back)
    sb.run(3)
    assert sb.endpoints("predictor")[2] == {8000}
    assert sb.ratio_5xx("api-gateway", 10) < 0.01


def test_broken_service_selector_empties_the_endpoints_until_it_is_patched_back(sb: Sandbox) -> None:
    sb.kubectl("patch", "service", "predictor", "-p", '{"spec":{"selector":{"app":"predictr"}}}')
    sb.run(3)
    assert sb.endpoints("predictor")[:2] == ([], [])
    assert "<none>" in sb.kubectl("get", "endpoints", "predictor")
    assert sb.ratio_5xx("api-gateway", 10) > 0.5

    sb.kubectl("patch", "service", "predictor", "-p", '{"spec":{"selector":{"app":"predictor"}}}')
    sb.run(3)
    assert sb.endpoints("predictor")[0] == sb.ready_pods("predictor") != []
    assert sb.ratio_5xx("api-gateway", 10) < 0.01


# --- workloads ------------------------------------------------------------------------------------
def test_memory_limit_below_usage_is_oom_killed_and_rollout_undo_heals(sb: Sandbox) -> None:
    sb.kubectl(  # the request comes down too: a limit below the request is refused, as by a real API server
        "set",
        "resources",
        "deployment/predictor",
        "-c",
        "predictor",
        "--requests=memory=128Mi",
        "--limits=memory=128Mi",
    )
    assert sb.run_until(
        lambda: any(_last_terminated(p).get("reason") == "OOMKilled" for p in sb.pods("predictor"))
    )
    killed = next(p for p in sb.pods("predictor") if _last_terminated(p).get("reason") == "OOMKilled")
    assert _last_terminated(killed)["exitCode"] == 137 and _memory_limit(killed) == "128Mi"
    assert "OOMKilled" in sb.kubectl("describe", "pod", killed["metadata"]["name"])
    assert len(sb.endpoints("predictor")[0]) >= 3  # the rollout stalls: the old pods keep serving
    assert sb.ratio_5xx("api-gateway", 5) < 0.01

    sb.kubectl("rollout", "undo", "deployment/predictor")
    assert sb.run_until(lambda: sb.rolled_out("predictor"))
    assert {_memory_limit(p) for p in sb.pods("predictor")} == {"768Mi"}
    restarts = sum(p["status"]["containerStatuses"][0]["restartCount"] for p in sb.pods("predictor"))
    sb.run(20)
    assert sum(p["status"]["containerStatuses"][0]["restartCount"] for p in sb.pods("predictor")) == restarts


def test_node_selector_to_a_missing_node_stays_pending_until_it_is_removed(sb: Sandbox) -> None:
    patch = '{"spec":{"template":{"spec":{"nodeSelector":{"disktype":"nvme"}}}}}'
    sb.kubectl("patch", "deployment", "predictor", "-p", patch)
    sb.run(5)
    pending = [p for p in sb.pods("predictor") if p["status"].get("phase") == "Pending"]
    assert pending and not any(p["spec"].get("nodeName") for p in pending)
    assert any("didn't match Pod's node affinity/selector" in m for m in sb.events("FailedScheduling"))
    assert "Pending" in sb.kubectl("get", "pods", "-l", "app=predictor")

    remove = '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]'
    sb.kubectl("patch", "deployment", "predictor", "--type=json", "-p", remove)
    assert sb.run_until(lambda: sb.rolled_out("predictor"))
    assert all(p["status"]["phase"] == "Running" for p in sb.pods("predictor"))


def test_readiness_probe_path_the_image_does_not_serve_keeps_pods_unready(sb: Sandbox) -> None:
    path = '[{"op":"replace","path":"/spec/template/spec/containers/0/readinessProbe/httpGet/path","value":"/nope"}]'
    sb.kubectl("patch", "deployment", "api-gateway", "--type=json", "-p", path)
    sb.run(20)
    _, waiting, _ = sb.endpoints("api-gateway")
    assert waiting, "the new pod is listed as not ready"
    assert any("Readiness probe failed" in m and "404" in m for m in sb.events("Unhealthy"))
    assert not sb.rolled_out("api-gateway")

    sb.kubectl("rollout", "undo", "deployment/api-gateway")
    assert sb.run_until(lambda: sb.rolled_out("api-gateway") and not sb.endpoints("api-gateway")[1])
    assert sb.endpoints("api-gateway")[0] == sb.ready_pods("api-gateway") != []


def test_scaled_to_zero_leaves_callers_with_errors_until_scaled_back(sb: Sandbox) -> None:
    sb.kubectl("scale", "deployment/predictor", "--replicas=0")
    sb.run(5)
    assert sb.pods("predictor") == [] and sb.endpoints("predictor")[:2] == ([], [])
    assert sb.ratio_5xx("api-gateway", 10) > 0.5
    assert any("ScalingDisabled" in json.dumps(c) for c in _hpa_conditions(sb, "predictor"))

    sb.kubectl("scale", "deployment/predictor", "--replicas=3")
    assert sb.run_until(lambda: len(sb.endpoints("predictor")[0]) >= 3)
    assert sb.ratio_5xx("api-gateway", 10) < 0.01


def _hpa_conditions(sb: Sandbox, name: str) -> list[Obj]:
    return list(sb.store.get("horizontalpodautoscalers", NS, name).get("status", {}).get("conditions") or [])


def test_changed_database_password_fails_clients_until_it_is_restored(sb: Sandbox) -> None:
    secret = "feature-store-credentials"
    original = sb.store.get("secrets", NS, secret)["data"]["password"]
    sb.kubectl("patch", "secret", secret, "-p", json.dumps({"data": {"password": _b64("rotated-by-hand")}}))
    sb.run(3)  # nothing restarted: every pod keeps the password it started with
    assert sb.metric("predictor", "upstream_requests_total", result="auth_failed") == 0
    sb.kubectl("rollout", "restart", "deployment/feature-store")
    assert sb.run_until(lambda: sb.metric("predictor", "upstream_requests_total", result="auth_failed") > 0)
    assert any("authentication failed" in line for line in sb.log_lines("predictor"))

    sb.kubectl("patch", "secret", secret, "-p", json.dumps({"data": {"password": original}}))
    sb.kubectl("delete", "pod", "-l", "app=feature-store")  # the database restarts with the old password
    assert sb.run_until(lambda: sb.rolled_out("feature-store"))
    sb.run(5)
    failed = sb.metric("predictor", "upstream_requests_total", result="auth_failed")
    sb.run(10)
    assert sb.metric("predictor", "upstream_requests_total", result="auth_failed") == failed


# --- catalog faults fixed differently from their runbooks --------------------------------------
def _inject(sb: Sandbox, name: str) -> tuple[faults.Fault, Any]:
    api = config.new_client_from_config(str(sb.kubeconfig))
    fault = faults.get_fault(name)
    faults.inject(api, fault)
    return fault, api


def test_pending_pod_fault_healed_by_labelling_a_node_instead_of_removing_the_selector(sb: Sandbox) -> None:
    fault, api = _inject(sb, "pending-pod")  # nodeSelector disktype=nvme, which no node has
    sb.run(10)
    assert not fault.check_end_state(api, "http://127.0.0.1:9")[0]  # object-only check: no Prometheus
    sb.kubectl("label", "node", "node-b", "disktype=nvme")
    assert sb.run_until(lambda: sb.rolled_out(fault.target))
    ok, detail = fault.check_end_state(api, "http://127.0.0.1:9")
    assert ok, detail
    assert {p["spec"]["nodeName"] for p in sb.pods(fault.target)} == {"node-b"}


def test_readiness_probe_fault_healed_by_patching_the_probe_instead_of_a_rollback(sb: Sandbox) -> None:
    fault, api = _inject(sb, "readiness-probe")  # probe on port 8081, where nothing listens
    sb.run(20)
    assert not fault.check_end_state(api, "http://127.0.0.1:9")[0]
    fix = '[{"op":"replace","path":"/spec/template/spec/containers/0/readinessProbe/httpGet/port","value":"http"}]'
    sb.kubectl("patch", "deployment", fault.target, "--type=json", "-p", fix)
    assert sb.run_until(lambda: sb.rolled_out(fault.target))
    ok, detail = fault.check_end_state(api, "http://127.0.0.1:9")
    assert ok, detail
    patched = sb.store.get("deployments", NS, fault.target)["metadata"]["managedFields"]
    assert "kubectl-patch" in {m["manager"] for m in patched}


def test_bad_deploy_fixed_with_set_image_to_the_good_tag_leaves_good_pods(sb: Sandbox) -> None:
    _, api = _inject(sb, "bad-deploy")
    sb.run(20)
    assert sb.ratio_5xx("predictor", 10) > 0.1
    sb.kubectl("set", "image", "deployment/predictor", f"predictor={CURRENT['predictor']}")
    assert sb.run_until(lambda: sb.rolled_out("predictor"))
    sb.run(5)
    assert sb.ratio_5xx("predictor", 15) < 0.01
    from sandbox.faults import checks

    ok, detail = checks.images_good(api, NS, "predictor")
    assert ok, detail
    assert f"{REGISTRY}/predictor:1.5.0" not in {
        p["spec"]["containers"][0]["image"] for p in sb.pods("predictor")
    }


# --- faults whose end-state checks read Prometheus: on the session's real sandbox ---------------
@pytest.mark.sandbox
def test_bad_deploy_fixed_with_set_image_passes_the_full_end_state_check(sandbox: SessionSandbox) -> None:
    fault = sandbox.inject("bad-deploy")  # the runbook rolls back; setting the good tag is as correct
    try:
        sandbox.kubectl(
            "set", "image", f"deployment/{fault.target}", f"{fault.target}={CURRENT[fault.target]}"
        )
        detail = sandbox.wait_end_state(fault, timeout=120)
        assert "5xx ratio" in detail
    finally:
        sandbox.reset()


@pytest.mark.sandbox
def test_crashloop_config_fixed_by_patching_the_configmap_passes_the_end_state_check(
    sandbox: SessionSandbox,
) -> None:
    fault = sandbox.inject("crashloop-config")  # the runbook rolls back; restoring the value is as correct
    try:
        good = json.dumps({"data": {"WORKERS": "4"}})
        sandbox.kubectl("patch", "configmap", "predictor-config", "-n", NS, "-p", good)
        # no restart needed: the crash-looping pods read the fixed value on their next start
        sandbox.wait_end_state(fault, timeout=150)
    finally:
        sandbox.reset()
