"""kubectl against the Kubernetes API stand-in: the commands an SRE (and the agent's tools) use."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401

from sandbox.kube.store import Change, Store

pytestmark = needs_kubectl


def _image(w: World) -> str:
    return str(w.store.get("deployments", NS, "api")["spec"]["template"]["spec"]["containers"][0]["image"])


def test_get_pods_prints_statuses_including_crash_loop(world: World) -> None:
    out = world.kubectl("get", "pods").stdout
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines["api-h2-0"][1:3] == ["1/1", "Running"]
    assert lines["api-h2-1"][1:4] == ["0/1", "CrashLoopBackOff", "7"]


def test_get_wide_and_all_namespaces(world: World) -> None:
    wide = world.kubectl("get", "pods", "-o", "wide").stdout
    assert "10.0.0.2" in wide and "node-1" in wide
    everything = world.kubectl("get", "deploy,rs,svc,cm,secret,nodes", "-A").stdout
    for name in ("deployment.apps/api", "replicaset.apps/api-h1", "service/api", "configmap/api-config"):
        assert name in everything
    assert "1/2" in everything  # deployment READY column: readyReplicas/replicas


def test_get_with_label_and_field_selectors(world: World) -> None:
    def names(*args: str) -> list[str]:
        return world.kubectl("get", "pods", "-o", "name", *args).stdout.split()

    assert names("-l", "app=api,pod-template-hash in (h2)") == ["pod/api-h2-0", "pod/api-h2-1"]
    assert names("-l", "app!=api") == []
    assert names("-l", "!pod-template-hash") == []
    assert names("--field-selector", "metadata.name=api-h2-1") == ["pod/api-h2-1"]
    assert names("--field-selector", "spec.nodeName=node-1,status.phase!=Running") == []


def test_get_json_and_yaml_carry_kind_and_defaults(world: World) -> None:
    pods = json.loads(world.kubectl("get", "pods", "-o", "json").stdout)
    assert [p["metadata"]["name"] for p in pods["items"]] == ["api-h2-0", "api-h2-1"]
    deployment = world.kubectl("get", "deployment", "api", "-o", "yaml").stdout
    assert "kind: Deployment" in deployment and "apiVersion: apps/v1" in deployment


def test_describe_pod_and_deployment(world: World) -> None:
    pod = world.kubectl("describe", "pod", "api-h2-1").stdout
    assert "CrashLoopBackOff" in pod and "Controlled By:  ReplicaSet/api-h2" in pod
    deployment = world.kubectl("describe", "deployment", "api").stdout
    assert "NewReplicaSet:     api-h2" in deployment and "OldReplicaSets:    api-h1" in deployment


def test_logs_pass_parameters_to_the_provider(world: World) -> None:
    out = world.kubectl("logs", "api-h2-0", "--tail=2").stdout.splitlines()
    assert out == ["api-h2-0/api current line 3", "api-h2-0/api current line 4"]
    previous = world.kubectl(
        "logs", "api-h2-1", "-c", "api", "--previous", "--timestamps"
    ).stdout.splitlines()
    assert previous[0] == "2026-01-01T00:00:00Z api-h2-1/api previous line 0"
    missing = world.kubectl("logs", "api-h2-0", "-c", "nope", check=False)
    assert missing.returncode != 0 and "container nope is not valid" in missing.stderr


def test_scale(world: World) -> None:
    world.kubectl("scale", "deployment/api", "--replicas=5")
    assert world.store.get("deployments", NS, "api")["spec"]["replicas"] == 5


def test_set_image(world: World) -> None:
    world.kubectl("set", "image", "deployment/api", "api=api:v3")
    assert _image(world) == "api:v3"
    env = world.store.get("deployments", NS, "api")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "fast"}]  # strategic merge kept the rest of the container


def test_rollout_restart_sets_restarted_at(world: World) -> None:
    world.kubectl("rollout", "restart", "deployment/api")
    template = world.store.get("deployments", NS, "api")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]


def test_rollout_undo_to_previous_and_to_revision(world: World) -> None:
    world.kubectl("rollout", "undo", "deployment/api")
    assert _image(world) == "api:v1"
    world.kubectl("rollout", "undo", "deployment/api", "--to-revision=2")
    assert _image(world) == "api:v2"


def test_rollout_history_reads_change_causes(world: World) -> None:
    out = world.kubectl("rollout", "history", "deployment/api").stdout
    assert "1         deploy api:v1" in out and "2         deploy api:v2" in out
    one = world.kubectl("rollout", "history", "deployment/api", "--revision=1").stdout
    assert "Image:\tapi:v1" in one


def test_cordon_and_uncordon(world: World) -> None:
    world.kubectl("cordon", "node-1")
    assert (
        world.kubectl("get", "node", "node-1", "--no-headers").stdout.split()[1] == "Ready,SchedulingDisabled"
    )
    world.kubectl("uncordon", "node-1")
    assert world.store.get("nodes", "", "node-1")["spec"].get("unschedulable") is None


def test_patch_all_three_types(world: World) -> None:
    world.kubectl("patch", "configmap", "api-config", "-p", '{"data":{"B":"2"}}')
    world.kubectl("patch", "configmap", "api-config", "--type=merge", "-p", '{"data":{"A":null}}')
    world.kubectl(
        "patch", "configmap", "api-config", "--type=json", "-p", '[{"op":"add","path":"/data/C","value":"3"}]'
    )
    assert world.store.get("configmaps", NS, "api-config")["data"] == {"B": "2", "C": "3"}


def test_delete_pod_removes_it(world: World) -> None:
    out = world.kubectl("delete", "pod", "api-h2-0").stdout
    assert 'pod "api-h2-0" deleted' in out
    assert world.store.try_get("pods", NS, "api-h2-0") is None


def test_errors_come_back_as_kubectl_shows_them(world: World) -> None:
    missing = world.kubectl("get", "pod", "nope", check=False)
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr
    dup = world.kubectl(
        "create", "-f", "-", check=False, stdin=json.dumps(world.store.get("configmaps", NS, "api-config"))
    )
    assert "AlreadyExists" in dup.stderr


def test_create_and_apply_a_manifest(world: World) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }
    world.kubectl("create", "-f", "-", stdin=json.dumps(manifest))
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"  # type: ignore[index]
    world.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    web = world.store.get("deployments", NS, "web")
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    assert web["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    bad = dict(manifest, metadata={"name": "Bad_Name"})
    rejected = world.kubectl("create", "-f", "-", check=False, stdin=json.dumps(bad))
    assert 'The Deployment "Bad_Name" is invalid' in rejected.stderr


def test_server_dry_run_changes_nothing(world: World) -> None:
    world.kubectl("scale", "deployment/api", "--replicas=9", "--dry-run=server")
    world.kubectl("delete", "pod", "api-h2-0", "--dry-run=server")
    assert world.store.get("deployments", NS, "api")["spec"]["replicas"] == 2
    assert world.store.try_get("pods", NS, "api-h2-0") is not None


def test_get_watch_prints_a_change(world: World) -> None:
    import subprocess

    from kube_fixtures import KUBECTL

    cmd = [
        KUBECTL or "kubectl",
        "--kubeconfig",
        str(world.kubeconfig),
        "get",
        "pods",
        "-w",
        "--request-timeout=20s",
    ]
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline()
        assert header.split()[:3] == ["NAME", "READY", "STATUS"]
        for _ in range(2):
            watcher.stdout.readline()  # the two existing pods
        world.store.mutate("pods", NS, "api-h2-0", _set_waiting("ImagePullBackOff"))
        assert "ImagePullBackOff" in watcher.stdout.readline()
    finally:
        watcher.kill()
        watcher.wait()


def _set_waiting(reason: str):  # type: ignore[no-untyped-def]
    def apply(pod: dict) -> None:  # type: ignore[type-arg]
        pod["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": reason}})

    return apply


@pytest.fixture
def rollout_controller(world: World) -> Iterator[None]:
    """A tiny deployment controller: marks every spec change as fully rolled out."""

    def on_change(change: Change) -> None:
        obj = change.obj
        if change.resource != "deployments" or change.type == "DELETED":
            return
        meta, status = obj["metadata"], obj.get("status", {})
        if status.get("observedGeneration") == meta["generation"]:
            return
        threading.Thread(target=_complete, args=(world.store, meta["name"]), daemon=True).start()

    unsubscribe = world.store.subscribe(on_change)
    yield
    unsubscribe()


def _complete(store: Store, name: str) -> None:
    def done(d: dict) -> None:  # type: ignore[type-arg]
        n = d["spec"]["replicas"]
        d["status"] = {
            "observedGeneration": d["metadata"]["generation"],
            "replicas": n,
            "updatedReplicas": n,
            "readyReplicas": n,
            "availableReplicas": n,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}],
        }

    store.mutate("deployments", NS, name, done)


def test_rollout_status_follows_the_controller(world: World, rollout_controller: None) -> None:
    world.kubectl("set", "image", "deployment/api", "api=api:v4")
    out = world.kubectl("rollout", "status", "deployment/api", "--timeout=30s").stdout
    assert 'deployment "api" successfully rolled out' in out
