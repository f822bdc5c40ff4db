"""The scheduler and the node lifecycle: selectors, cordons, capacity, NotReady nodes."""

from __future__ import annotations

import pytest

from sandbox.platform import NODES, TOLERATION_SECONDS
from sandbox.sim.objects import condition
from sandbox.sim.testing import SimCluster

pytestmark = pytest.mark.timeout(60)


def _template_spec(fn):
    def change(obj: dict) -> None:
        fn(obj["spec"]["template"]["spec"])

    return change


def _pending(cluster: SimCluster, app: str) -> list[dict]:
    return [p for p in cluster.pods(app=app) if not p["spec"].get("nodeName")]


def test_node_selector_to_a_missing_label_stays_pending_with_failed_scheduling() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate(
        "deployments", "predictor", _template_spec(lambda s: s.__setitem__("nodeSelector", {"gpu": "a100"}))
    )
    cluster.run(5)
    pending = _pending(cluster, "predictor")
    assert len(pending) == 1  # maxSurge 1: one new pod, the old three keep serving
    scheduled = condition(pending[0], "PodScheduled")
    assert scheduled is not None and scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    events = cluster.events("FailedScheduling", pending[0]["metadata"]["name"])
    assert events[0]["type"] == "Warning"
    assert events[0]["message"].startswith(
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    )
    assert "preemption: 0/3 nodes are available" in events[0]["message"]
    assert len(cluster.endpoints("predictor")[0]) == 3
    # Removing the selector (the natural fix) schedules the rollout.
    cluster.mutate("deployments", "predictor", _template_spec(lambda s: s.pop("nodeSelector")))
    assert cluster.run_until(lambda: not _pending(cluster, "predictor"), 30)


def test_cordoned_nodes_leave_new_pods_pending() -> None:
    cluster = SimCluster.seeded()
    for node in NODES:
        cluster.store.mutate("nodes", "", node, lambda n: n["spec"].__setitem__("unschedulable", True))
    cluster.mutate("deployments", "ingest-worker", lambda d: d["spec"].__setitem__("replicas", 4))
    cluster.run(5)
    pending = _pending(cluster, "ingest-worker")
    assert len(pending) == 2
    message = cluster.events("FailedScheduling", pending[0]["metadata"]["name"])[0]["message"]
    assert "3 node(s) were unschedulable" in message
    taints = cluster.store.get("nodes", "", "node-b")["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [("node.kubernetes.io/unschedulable", "NoSchedule")]
    cluster.store.mutate("nodes", "", "node-b", lambda n: n["spec"].pop("unschedulable"))
    assert cluster.run_until(lambda: not _pending(cluster, "ingest-worker"), 30)
    assert {p["spec"]["nodeName"] for p in cluster.pods(app="ingest-worker")} >= {"node-b"}
    assert not cluster.store.get("nodes", "", "node-b")["spec"].get("taints")  # uncordoned


def test_requests_beyond_node_capacity_are_insufficient_cpu() -> None:
    cluster = SimCluster.seeded()

    def huge(spec: dict) -> None:
        spec["containers"][0]["resources"] = {"requests": {"cpu": "6", "memory": "1Gi"}}

    cluster.mutate("deployments", "cache", _template_spec(huge))
    cluster.run(5)
    pending = _pending(cluster, "cache")
    assert pending
    message = cluster.events("FailedScheduling", pending[0]["metadata"]["name"])[0]["message"]
    assert "3 Insufficient cpu" in message


def test_not_ready_node_is_tainted_and_its_pods_move_after_the_toleration() -> None:
    cluster = SimCluster.seeded()
    victims = {p["metadata"]["name"] for p in cluster.pods() if p["spec"]["nodeName"] == "node-a"}
    assert victims

    def not_ready(node: dict) -> None:
        for cond in node["status"]["conditions"]:
            if cond["type"] == "Ready":
                cond.update(status="False", reason="KubeletNotReady", message="container runtime is down")

    cluster.store.mutate("nodes", "", "node-a", not_ready)
    cluster.run(3)
    node = cluster.store.get("nodes", "", "node-a")
    taints = {(t["key"], t["effect"]) for t in node["spec"]["taints"]}
    assert ("node.kubernetes.io/not-ready", "NoExecute") in taints
    assert condition(node, "Ready")["status"] == "False"  # nothing heals it
    for name in victims:
        pod = cluster.get("pods", name)
        assert condition(pod, "Ready")["status"] == "False"
    # Before the toleration expires the pods stay where they are.
    cluster.run(TOLERATION_SECONDS - 10)
    assert not any(cluster.get("pods", name)["metadata"].get("deletionTimestamp") for name in victims)
    cluster.run(20)
    for name in victims:
        assert cluster.get("pods", name)["metadata"].get(
            "deletionTimestamp"
        )  # stuck Terminating, as on a real cluster
    assert cluster.run_until(
        lambda: all(
            d["status"].get("availableReplicas") == d["spec"]["replicas"]
            for d in cluster.store.list("deployments")
        ),
        60,
    )
    assert not any(p["spec"].get("nodeName") == "node-a" for p in cluster.pods())
    assert cluster.events("TaintManagerEviction")
    # The node comes back: the taint goes and its kubelet finishes the deletions.
    cluster.store.mutate(
        "nodes",
        "",
        "node-a",
        lambda n: [
            c.update(status="True", reason="KubeletReady")
            for c in n["status"]["conditions"]
            if c["type"] == "Ready"
        ],
    )
    cluster.run(3)
    assert not cluster.store.get("nodes", "", "node-a")["spec"].get("taints")
    assert cluster.events("NodeReady", "node-a")
    assert not any(cluster.store.try_get("pods", cluster.namespace, name) for name in victims)


def test_pods_of_a_deleted_node_are_replaced_elsewhere() -> None:
    cluster = SimCluster.seeded()
    victims = {p["metadata"]["name"] for p in cluster.pods() if p["spec"]["nodeName"] == "node-c"}
    cluster.store.delete("nodes", "", "node-c")
    cluster.run(3)
    assert not any(cluster.store.try_get("pods", cluster.namespace, name) for name in victims)
    assert cluster.run_until(
        lambda: all(
            d["status"].get("availableReplicas") == d["spec"]["replicas"]
            for d in cluster.store.list("deployments")
        ),
        60,
    )
    assert {p["spec"]["nodeName"] for p in cluster.pods()} <= {"node-a", "node-b"}


def test_nodes_full_of_pods_say_too_many_pods() -> None:
    cluster = SimCluster.seeded()
    counts = {n: sum(1 for p in cluster.store.list("pods") if p["spec"].get("nodeName") == n) for n in NODES}
    for node, count in counts.items():
        cluster.store.mutate(
            "nodes", "", node, lambda n, c=count: n["status"]["allocatable"].__setitem__("pods", str(c))
        )
    cluster.mutate("deployments", "queue", lambda d: d["spec"].__setitem__("replicas", 2))
    cluster.run(3)
    pending = _pending(cluster, "queue")
    assert pending
    message = cluster.events("FailedScheduling", pending[0]["metadata"]["name"])[0]["message"]
    assert "3 Too many pods" in message
