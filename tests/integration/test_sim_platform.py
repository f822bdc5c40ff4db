"""The seeded platform settles into a healthy cluster: controllers, scheduler and kubelet together."""

from __future__ import annotations

import pytest

from sandbox.images import CURRENT, PREVIOUS
from sandbox.platform import APPS, PRODUCTION, STAGING
from sandbox.sim.objects import REVISION, condition_true, owner_uid
from sandbox.sim.testing import SimCluster, container_status

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cluster() -> SimCluster:
    return SimCluster.seeded()


def test_every_deployment_is_available_with_all_replicas(cluster: SimCluster) -> None:
    for ns in (PRODUCTION, STAGING):
        for app, spec in APPS.items():
            status = cluster.get("deployments", app, ns)["status"]
            want = spec["replicas"] if ns == PRODUCTION else 1
            assert status.get("availableReplicas") == want, (ns, app, status)
            assert status.get("updatedReplicas") == want
            conditions = {c["type"]: c for c in status["conditions"]}
            assert conditions["Available"]["status"] == "True"
            assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_pods_run_ready_on_nodes_with_ips(cluster: SimCluster) -> None:
    pods = cluster.pods()
    assert len(pods) == sum(spec["replicas"] for spec in APPS.values())
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert condition_true(pod, "Ready")
        assert pod["spec"]["nodeName"] in ("node-a", "node-b", "node-c")
        assert pod["status"]["podIP"].startswith("10.244.")
        assert container_status(pod)["restartCount"] == 0
    # Spread: the least-allocated scheduler uses all three nodes.
    assert {p["spec"]["nodeName"] for p in pods} == {"node-a", "node-b", "node-c"}


def test_endpoints_list_the_ready_pods_on_the_target_port(cluster: SimCluster) -> None:
    ready, waiting = cluster.endpoints("predictor")
    assert ready == sorted(p["metadata"]["name"] for p in cluster.pods(app="predictor"))
    assert waiting == []
    subsets = cluster.get("endpoints", "predictor")["subsets"]
    assert subsets[0]["ports"][0]["port"] == 8000  # the named targetPort "http" resolved


def test_revision_history_has_an_older_good_replicaset(cluster: SimCluster) -> None:
    deployment = cluster.get("deployments", "predictor")
    assert deployment["metadata"]["annotations"][REVISION] == "2"
    owned = [
        rs
        for rs in cluster.store.list("replicasets", PRODUCTION)
        if owner_uid(rs) == deployment["metadata"]["uid"]
    ]
    by_revision = {rs["metadata"]["annotations"][REVISION]: rs for rs in owned}
    assert by_revision["1"]["spec"]["template"]["spec"]["containers"][0]["image"] == PREVIOUS["predictor"]
    assert by_revision["1"]["spec"]["replicas"] == 0
    assert by_revision["2"]["spec"]["template"]["spec"]["containers"][0]["image"] == CURRENT["predictor"]
    assert by_revision["2"]["spec"]["replicas"] == 3


def test_lifecycle_events_and_startup_logs_are_written(cluster: SimCluster) -> None:
    reasons = {e["reason"] for e in cluster.events(name_prefix="predictor-")}
    assert {"Scheduled", "Pulling", "Pulled", "Created", "Started", "SuccessfulCreate"} <= reasons
    # the current ReplicaSet is seeded at full scale: start-up is no rollout (sandbox.history)
    assert not cluster.events("ScalingReplicaSet", "predictor")
    pod = cluster.pods(app="predictor")[0]["metadata"]["name"]
    lines = cluster.logs.pod_log(PRODUCTION, pod, "predictor")
    assert any("model loaded" in line for line in lines), lines


def test_a_settled_cluster_stops_writing(cluster: SimCluster) -> None:
    before = cluster.store.resource_version
    cluster.run(5)
    assert cluster.store.resource_version == before
