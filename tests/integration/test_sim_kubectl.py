"""kubectl alone against the API stand-in and the simulation: every change has its real effect."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.images import CURRENT, REGISTRY
from sandbox.kube import start_kube_api, write_kubeconfig
from sandbox.sim.objects import REVISION
from sandbox.sim.testing import SimCluster, container_status, waiting_reason

KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed"),
]


class Kubectl:
    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.base = [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache)]

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SimCluster, Kubectl]]:
    cluster = SimCluster.seeded()
    server = start_kube_api(
        cluster.store,
        log_provider=lambda ns, pod, container, previous, since, tail: cluster.logs.pod_log(
            ns, pod, container, previous=previous, since_seconds=since, tail_lines=tail
        ),
    )
    try:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        yield cluster, Kubectl(kubeconfig, tmp_path / "cache")
    finally:
        server.shutdown()


def test_set_image_to_a_missing_tag_then_rollout_undo(world: tuple[SimCluster, Kubectl]) -> None:
    cluster, kubectl = world
    kubectl("set", "image", "deployment/predictor", f"predictor={REGISTRY}/predictor:9.9.9")
    cluster.run(10)
    assert "ImagePullBackOff" in kubectl("get", "pods", "-l", "app=predictor")
    kubectl("rollout", "undo", "deployment/predictor")
    assert cluster.run_until(
        lambda: (
            {container_status(p).get("image") for p in cluster.pods(app="predictor")}
            == {CURRENT["predictor"]}
            and len(cluster.endpoints("predictor")[0]) == 3
        ),
        60,
    )
    assert cluster.get("deployments", "predictor")["metadata"]["annotations"][REVISION] == "4"
    history = kubectl("rollout", "history", "deployment/predictor")
    assert "3" in history and "4" in history


def test_bad_config_value_shows_crash_loop_in_kubectl(world: tuple[SimCluster, Kubectl]) -> None:
    cluster, kubectl = world
    kubectl("patch", "configmap", "predictor-config", "--type=merge", "-p", '{"data":{"WORKERS":"zero"}}')
    kubectl("rollout", "restart", "deployment/predictor")
    assert cluster.run_until(
        lambda: any(waiting_reason(p) == "CrashLoopBackOff" for p in cluster.pods(app="predictor")), 60
    )
    assert "CrashLoopBackOff" in kubectl("get", "pods", "-l", "app=predictor")
    crashing = next(p for p in cluster.pods(app="predictor") if waiting_reason(p) == "CrashLoopBackOff")
    described = kubectl("describe", "pod", crashing["metadata"]["name"])
    assert "Back-off restarting failed container" in described


def test_scale_to_zero_and_delete_pod_with_kubectl(world: tuple[SimCluster, Kubectl]) -> None:
    cluster, kubectl = world
    kubectl("scale", "deployment/cache", "--replicas=0")
    cluster.run(5)
    assert cluster.pods(app="cache") == []
    assert cluster.endpoints("cache") == ([], [])
    victim = cluster.pods(app="queue")[0]["metadata"]["name"]
    kubectl("delete", "pod", victim, "--wait=false")
    assert cluster.run_until(lambda: len(cluster.endpoints("queue")[0]) == 1, 30)
    assert victim not in {p["metadata"]["name"] for p in cluster.pods(app="queue")}


def test_service_target_port_change_keeps_pods_listed_on_the_new_port(
    world: tuple[SimCluster, Kubectl],
) -> None:
    cluster, kubectl = world
    kubectl(
        "patch",
        "service",
        "predictor",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9999}]',
    )
    cluster.run(2)
    subsets = cluster.get("endpoints", "predictor")["subsets"]
    assert subsets[0]["ports"][0]["port"] == 9999
    kubectl("patch", "service", "predictor", "--type=merge", "-p", '{"spec":{"selector":{"app":"nothing"}}}')
    cluster.run(2)
    assert cluster.endpoints("predictor") == ([], [])
