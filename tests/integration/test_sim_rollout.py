"""Rollouts as the deployment controller runs them: bad images stall, undo re-uses the old set."""

from __future__ import annotations

import copy

import pytest

from sandbox.images import CURRENT, PREVIOUS, REGISTRY
from sandbox.sim.objects import HASH_LABEL, REVISION, REVISION_HISTORY, owner_uid
from sandbox.sim.testing import SimCluster, container_status, waiting_reason

pytestmark = pytest.mark.timeout(60)


def _set_image(image: str):
    def change(obj: dict) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image

    return change


def _replica_sets(cluster: SimCluster, app: str) -> dict[str, dict]:
    uid = cluster.get("deployments", app)["metadata"]["uid"]
    owned = [rs for rs in cluster.store.list("replicasets", cluster.namespace) if owner_uid(rs) == uid]
    return {rs["metadata"]["annotations"][REVISION]: rs for rs in owned}


def _undo(cluster: SimCluster, app: str, revision: str) -> None:
    """What `kubectl rollout undo --to-revision` does: copy that ReplicaSet's template back."""
    template = copy.deepcopy(_replica_sets(cluster, app)[revision]["spec"]["template"])
    template["metadata"]["labels"].pop(HASH_LABEL)
    cluster.mutate("deployments", app, lambda d: d["spec"].__setitem__("template", template))


def _condition(cluster: SimCluster, app: str, type_: str) -> dict:
    status = cluster.get("deployments", app)["status"]
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_unpullable_image_backs_off_while_old_pods_keep_serving() -> None:
    cluster = SimCluster.seeded()
    old_pods = {p["metadata"]["name"] for p in cluster.pods(app="predictor")}
    missing = f"{REGISTRY}/predictor:9.9.9"
    cluster.mutate("deployments", "predictor", _set_image(missing))
    cluster.run(15)

    new = [p for p in cluster.pods(app="predictor") if p["metadata"]["name"] not in old_pods]
    assert new, "the rollout created no new pod"
    assert {waiting_reason(p) for p in new} <= {"ErrImagePull", "ImagePullBackOff"}
    assert any(waiting_reason(p) == "ImagePullBackOff" for p in new)
    failed = [e["message"] for e in cluster.events("Failed", new[0]["metadata"]["name"])]
    assert any(f'Failed to pull image "{missing}"' in m and "not found" in m for m in failed), failed
    # maxUnavailable 25% of 3 rounds down to 0: every old pod is still there and serving.
    ready, _ = cluster.endpoints("predictor")
    assert old_pods <= set(ready)
    status = cluster.get("deployments", "predictor")["status"]
    assert status["availableReplicas"] == 3 and status["updatedReplicas"] == 1


def test_stalled_rollout_exceeds_its_progress_deadline() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate("deployments", "predictor", _set_image(f"{REGISTRY}/predictor:0.0.0-missing"))
    cluster.run(30)
    assert _condition(cluster, "predictor", "Progressing")["status"] == "True"
    cluster.run(120)  # progressDeadlineSeconds is 120 in the seed
    progressing = _condition(cluster, "predictor", "Progressing")
    assert progressing["status"] == "False"
    assert progressing["reason"] == "ProgressDeadlineExceeded"


def test_undo_reuses_the_previous_replicaset_with_a_new_revision() -> None:
    cluster = SimCluster.seeded()
    before = _replica_sets(cluster, "predictor")["2"]["metadata"]["name"]
    cluster.mutate("deployments", "predictor", _set_image(f"{REGISTRY}/predictor:9.9.9"))
    cluster.run(10)
    assert _replica_sets(cluster, "predictor")["3"]["spec"]["replicas"] >= 1

    _undo(cluster, "predictor", "2")
    assert cluster.run_until(
        lambda: (
            cluster.get("deployments", "predictor")["status"].get("updatedReplicas") == 3
            and cluster.get("deployments", "predictor")["status"].get("replicas") == 3
        ),
        60,
    )
    sets = _replica_sets(cluster, "predictor")
    assert sets["4"]["metadata"]["name"] == before  # same ReplicaSet, next revision
    assert sets["4"]["metadata"]["annotations"][REVISION_HISTORY] == "2"
    assert sets["3"]["spec"]["replicas"] == 0
    assert "2" not in sets
    assert cluster.get("deployments", "predictor")["metadata"]["annotations"][REVISION] == "4"
    images = {container_status(p)["image"] for p in cluster.pods(app="predictor")}
    assert images == {CURRENT["predictor"]}
    assert all(waiting_reason(p) == "" for p in cluster.pods(app="predictor"))


def test_rolling_update_to_a_good_image_replaces_every_pod() -> None:
    cluster = SimCluster.seeded()
    old_pods = {p["metadata"]["name"] for p in cluster.pods(app="api-gateway")}
    cluster.mutate("deployments", "api-gateway", _set_image(PREVIOUS["api-gateway"]))
    # During the rollout, availability never drops below desired - maxUnavailable (3 - 0).
    lowest = 3
    for _ in range(80):
        cluster.run(0.5)
        lowest = min(lowest, len(cluster.endpoints("api-gateway")[0]))
    pods = cluster.pods(app="api-gateway")
    assert len(pods) == 3 and not old_pods & {p["metadata"]["name"] for p in pods}
    assert lowest >= 3
    assert cluster.events("ScalingReplicaSet", "api-gateway")


def test_restarted_at_annotation_rolls_the_pods() -> None:
    cluster = SimCluster.seeded()
    old_pods = {p["metadata"]["name"] for p in cluster.pods(app="cache")}

    def restart(obj: dict) -> None:
        annotations = obj["spec"]["template"]["metadata"].setdefault("annotations", {})
        annotations["kubectl.kubernetes.io/restartedAt"] = "2027-01-15T08:10:00Z"

    cluster.mutate("deployments", "cache", restart)
    assert cluster.run_until(
        lambda: (
            {p["metadata"]["name"] for p in cluster.pods(app="cache")}.isdisjoint(old_pods)
            and cluster.get("deployments", "cache")["status"].get("availableReplicas") == 1
        ),
        60,
    )
    assert _replica_sets(cluster, "cache")["3"]["spec"]["replicas"] == 1


def test_recreate_strategy_stops_old_pods_before_starting_new_ones() -> None:
    cluster = SimCluster.seeded()
    old_pods = {p["metadata"]["name"] for p in cluster.pods(app="feature-store")}
    cluster.mutate("deployments", "feature-store", _set_image(PREVIOUS["feature-store"]))
    overlap = False
    for _ in range(60):
        cluster.run(0.5)
        names = {p["metadata"]["name"] for p in cluster.pods(app="feature-store", live=False)}
        overlap = overlap or (bool(names & old_pods) and bool(names - old_pods))
    assert not overlap
    pods = cluster.pods(app="feature-store")
    assert len(pods) == 1 and container_status(pods[0])["image"] == PREVIOUS["feature-store"]


def test_scale_to_zero_leaves_no_pods_and_empty_endpoints() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate("deployments", "ingest-worker", lambda d: d["spec"].__setitem__("replicas", 0))
    cluster.run(5)
    assert cluster.pods(app="ingest-worker", live=False) == []
    assert cluster.endpoints("ingest-worker") == ([], [])
    cluster.mutate("deployments", "ingest-worker", lambda d: d["spec"].__setitem__("replicas", 2))
    assert cluster.run_until(lambda: len(cluster.endpoints("ingest-worker")[0]) == 2, 30)


def test_deleted_pod_is_replaced() -> None:
    cluster = SimCluster.seeded()
    victim = cluster.pods(app="predictor")[0]["metadata"]["name"]
    cluster.store.delete("pods", cluster.namespace, victim)
    assert cluster.run_until(lambda: len(cluster.endpoints("predictor")[0]) == 3, 30)
    assert victim not in {p["metadata"]["name"] for p in cluster.pods(app="predictor")}


def test_scaling_in_the_middle_of_a_stuck_rollout_grows_the_old_replicaset_too() -> None:
    cluster = SimCluster.seeded()
    cluster.mutate("deployments", "predictor", _set_image(f"{REGISTRY}/predictor:9.9.9"))
    cluster.run(5)
    cluster.mutate("deployments", "predictor", lambda d: d["spec"].__setitem__("replicas", 5))
    cluster.run(15)
    sets = _replica_sets(cluster, "predictor")
    assert sets["2"]["spec"]["replicas"] >= 4  # proportional scaling: the serving set grows
    assert len(cluster.endpoints("predictor")[0]) >= 4
    assert sets["2"]["spec"]["replicas"] + sets["3"]["spec"]["replicas"] <= 5 + 2  # within maxSurge
