"""The official ``kubernetes`` Python client against the Kubernetes API stand-in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from typing import Any

import httpx
import pytest
from kube_fixtures import NS, World, seed, world_fixture  # noqa: F401
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from sandbox.kube import start_kube_api, write_kubeconfig
from sandbox.kube.store import Store


@pytest.fixture
def api(world: World) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(world.kubeconfig))


def _status(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def test_load_kube_config_reaches_the_server(world: World) -> None:
    config.load_kube_config(config_file=str(world.kubeconfig))
    pods = client.CoreV1Api().list_namespaced_pod(NS)
    assert [p.metadata.name for p in pods.items] == ["api-h2-0", "api-h2-1"]


def test_discovery(api: client.ApiClient) -> None:
    groups = {g.name: g.preferred_version.version for g in client.ApisApi(api).get_api_versions().groups}
    assert groups == {
        "apps": "v1",
        "autoscaling": "v2",
        "batch": "v1",
        "policy": "v1",
        "networking.k8s.io": "v1",
        "rbac.authorization.k8s.io": "v1",
    }
    rbac = client.RbacAuthorizationV1Api(api)
    assert rbac.list_cluster_role().items == [] and rbac.list_namespaced_role_binding(NS).items == []
    core = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/log", "services", "endpoints", "configmaps", "secrets", "events", "nodes"} <= core
    apps = {r.name: r for r in client.AppsV1Api(api).get_api_resources().resources}
    assert apps["deployments/scale"].kind == "Scale" and apps["deployments/scale"].group == "autoscaling"
    assert client.AppsV1Api(api).list_namespaced_stateful_set(NS).items == []  # served, even if unused
    assert client.AppsV1Api(api).list_daemon_set_for_all_namespaces().items == []


def test_list_with_selectors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)

    def names(**kw: Any) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(NS, **kw).items]

    assert names(label_selector="app in (api,web),pod-template-hash notin (h1)") == ["api-h2-0", "api-h2-1"]
    assert names(label_selector="pod-template-hash") == ["api-h2-0", "api-h2-1"]
    assert names(field_selector="metadata.name!=api-h2-0") == ["api-h2-1"]
    assert [p.metadata.name for p in core.list_pod_for_all_namespaces(label_selector="app==api").items] == [
        "api-h2-0",
        "api-h2-1",
    ]
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_pod(NS, field_selector="spec.bogus=1")
    assert _status(bad.value)["reason"] == "BadRequest"


def test_limit_pages_with_continue(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    first = core.list_namespaced_pod(NS, limit=1)
    assert [p.metadata.name for p in first.items] == ["api-h2-0"] and first.metadata._continue
    rest = core.list_namespaced_pod(NS, limit=1, _continue=first.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["api-h2-1"] and not rest.metadata._continue


def test_events_by_involved_object(world: World, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for pod, reason in (("api-h2-1", "BackOff"), ("api-h2-0", "Pulled")):
        uid = world.store.get("pods", NS, pod)["metadata"]["uid"]
        body = {
            "metadata": {"generateName": f"{pod}."},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": NS, "uid": uid},
            "reason": reason,
            "type": "Warning" if reason == "BackOff" else "Normal",
            "message": f"{reason} for {pod}",
        }
        core.create_namespaced_event(NS, body)
    found = core.list_namespaced_event(
        NS, field_selector="involvedObject.name=api-h2-1,involvedObject.kind=Pod"
    )
    assert [e.reason for e in found.items] == ["BackOff"]
    warnings = core.list_event_for_all_namespaces(field_selector="type=Warning")
    assert [e.involved_object.name for e in warnings.items] == ["api-h2-1"]
    described = world.kubectl("describe", "pod", "api-h2-1").stdout
    assert "BackOff for api-h2-1" in described


def test_create_get_replace_conflict(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(NS, {"metadata": {"name": "flags"}, "data": {"x": "1"}})
    assert created.metadata.uid and created.metadata.namespace == NS and created.kind == "ConfigMap"
    stale = created.metadata.resource_version
    created.data = {"x": "2"}
    core.replace_namespaced_config_map("flags", NS, created)
    created.data = {"x": "3"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("flags", NS, created)  # still carries the old resourceVersion
    body = _status(conflict.value)
    assert conflict.value.status == 409 and body["reason"] == "Conflict"
    assert stale == created.metadata.resource_version
    assert core.read_namespaced_config_map("flags", NS).data == {"x": "2"}


def test_not_found_and_already_exists(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("nope", NS)
    body = _status(missing.value)
    assert (body["reason"], body["message"]) == ("NotFound", 'deployments.apps "nope" not found')
    assert body["details"] == {"name": "nope", "kind": "deployments", "group": "apps"}
    with pytest.raises(ApiException) as dup:
        client.CoreV1Api(api).create_namespaced_secret(NS, {"metadata": {"name": "api-secret"}})
    assert dup.value.status == 409 and _status(dup.value)["reason"] == "AlreadyExists"


def _deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "w"}},
        "template": {
            "metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "w", "image": "w:1"}]},
        },
    }
    base.update(spec)
    return {"metadata": {"name": "w"}, "spec": base}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"metadata": {"name": "w"}, "spec": {"template": _deployment()["spec"]["template"]}},
            "spec.selector",
        ),
        (_deployment(template=None), "spec.template"),
        (_deployment(selector={"matchLabels": {"app": "other"}}), "spec.template.metadata.labels"),
        (_deployment(replicas=-1), "spec.replicas"),
        (
            _deployment(
                template={"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "w"}]}}
            ),
            "spec.template.spec.containers[0].image",
        ),
        (
            _deployment(
                template={"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"image": "w:1"}]}}
            ),
            "spec.template.spec.containers[0].name",
        ),
        ({**_deployment(), "metadata": {"name": "w", "labels": {"team": "a b"}}}, "metadata.labels"),
        ({**_deployment(), "metadata": {"name": "W_1"}}, "metadata.name"),
    ],
)
def test_invalid_deployments_are_422(world: World, body: dict[str, Any], field: str) -> None:
    # raw HTTP: the Python client would refuse to send some of these bodies
    url = f"{world.server.url}/apis/apps/v1/namespaces/{NS}/deployments"
    rejected = httpx.post(url, json=body)
    status = rejected.json()
    assert rejected.status_code == 422 and status["reason"] == "Invalid" and status["code"] == 422
    assert status["kind"] == "Status" and status["details"]["kind"] == "Deployment"
    assert field in [c["field"] for c in status["details"]["causes"]]
    assert world.store.try_get("deployments", NS, "w") is None


def test_defaults_on_create(api: client.ApiClient) -> None:
    created = client.AppsV1Api(api).create_namespaced_deployment(NS, _deployment())
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert (created.spec.revision_history_limit, created.spec.progress_deadline_seconds) == (10, 600)
    pod_spec = created.spec.template.spec
    assert pod_spec.restart_policy == "Always" and pod_spec.termination_grace_period_seconds == 30
    assert pod_spec.containers[0].image_pull_policy == "IfNotPresent"


def test_strategic_merge_keeps_named_list_items(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "api", "env": [{"name": "EXTRA", "value": "1"}]},
                        {"name": "sidecar", "image": "proxy:1"},
                    ]
                }
            }
        }
    }
    patched = apps.patch_namespaced_deployment("api", NS, patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["api"].image == "api:v2"
    assert [e.name for e in containers["api"].env] == ["MODE", "EXTRA"]
    assert containers["sidecar"].image == "proxy:1"
    removed = apps.patch_namespaced_deployment(
        "api", NS, {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    )
    assert [c.name for c in removed.spec.template.spec.containers] == ["api"]


def test_merge_and_json_patch(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    merged = core.patch_namespaced_config_map(
        "api-config", NS, {"data": {"A": None, "B": "2"}}, _content_type="application/merge-patch+json"
    )
    assert merged.data == {"B": "2"}
    ops = [
        {"op": "replace", "path": "/data/B", "value": "3"},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
    ]
    patched = core.patch_namespaced_config_map("api-config", NS, ops)
    assert patched.data == {"B": "3"} and patched.metadata.labels == {"x": "y"}
    with pytest.raises(ApiException) as failed:
        core.patch_namespaced_config_map("api-config", NS, [{"op": "remove", "path": "/data/nope"}])
    assert failed.value.status == 422


def test_scale_subresource(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    scale = apps.read_namespaced_deployment_scale("api", NS)
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=api")
    apps.patch_namespaced_deployment_scale("api", NS, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("api", NS).spec.replicas == 4
    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment_scale("api", NS, {"spec": {"replicas": -1}})
    assert negative.value.status == 422


def test_status_subresource_is_separate_from_spec(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    apps.patch_namespaced_deployment("api", NS, {"status": {"readyReplicas": 99}})
    assert (
        apps.read_namespaced_deployment("api", NS).status.ready_replicas == 1
    )  # ignored on the main resource
    apps.patch_namespaced_deployment_status("api", NS, {"status": {"readyReplicas": 2}})
    assert apps.read_namespaced_deployment_status("api", NS).status.ready_replicas == 2


def test_dry_run_changes_nothing(world: World, api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    before = world.store.resource_version
    dry = core.create_namespaced_config_map(NS, {"metadata": {"name": "dry"}}, dry_run="All")
    assert dry.metadata.name == "dry"
    apps.patch_namespaced_deployment("api", NS, {"spec": {"replicas": 7}}, dry_run="All")
    core.delete_namespaced_pod("api-h2-0", NS, dry_run="All")
    apps.patch_namespaced_deployment_scale("api", NS, {"spec": {"replicas": 7}}, dry_run="All")
    assert world.store.resource_version == before
    with pytest.raises(ApiException) as invalid:
        apps.patch_namespaced_deployment("api", NS, {"spec": {"replicas": -3}}, dry_run="All")
    assert invalid.value.status == 422


def test_delete_pod_and_cascade(world: World, api: client.ApiClient) -> None:
    client.CoreV1Api(api).delete_namespaced_pod("api-h2-1", NS)
    assert world.store.try_get("pods", NS, "api-h2-1") is None
    client.AppsV1Api(api).delete_namespaced_deployment("api", NS)
    assert world.store.list("replicasets", NS) == [] and world.store.list("pods", NS) == []


def test_pod_logs(api: client.ApiClient) -> None:
    text = client.CoreV1Api(api).read_namespaced_pod_log("api-h2-1", NS, tail_lines=1, previous=True)
    assert text == "api-h2-1/api previous line 4\n"


def test_watch_streams_changes(world: World, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    listed = core.list_namespaced_pod(NS)
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        stream = w.stream(
            core.list_namespaced_pod,
            NS,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=20,
        )
        for event in stream:
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    core.create_namespaced_pod(
        NS, {"metadata": {"name": "extra"}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    )
    core.delete_namespaced_pod("extra", NS)
    reader.join(timeout=30)
    assert seen == [("ADDED", "extra"), ("DELETED", "extra")]


def test_watch_with_selector_reports_objects_leaving_it(world: World, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    started = threading.Event()

    def consume() -> None:
        for event in w.stream(core.list_namespaced_pod, NS, label_selector="tier=web", timeout_seconds=20):
            seen.append((event["type"], event["object"].metadata.name))
            started.set()
            if event["type"] == "DELETED":
                w.stop()

    world.store.mutate("pods", NS, "api-h2-0", lambda p: p["metadata"]["labels"].update(tier="web"))
    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    assert started.wait(10)
    world.store.mutate("pods", NS, "api-h2-0", lambda p: p["metadata"]["labels"].pop("tier"))
    reader.join(timeout=30)
    assert seen == [("ADDED", "api-h2-0"), ("DELETED", "api-h2-0")]


def test_malformed_requests_get_400_and_the_server_keeps_serving(world: World) -> None:
    url = f"{world.server.url}/api/v1/namespaces/{NS}/configmaps"
    bad = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["reason"] == "BadRequest"
    not_object = httpx.post(url, json=[1, 2])
    assert not_object.status_code == 400
    odd_patch = httpx.patch(f"{url}/api-config", content=b"{}", headers={"Content-Type": "text/plain"})
    assert odd_patch.status_code == 415
    wrong = httpx.delete(f"{world.server.url}/api/v1/namespaces/{NS}/pods/api-h2-0/log")
    assert wrong.status_code == 405 and wrong.json()["reason"] == "MethodNotAllowed"
    assert httpx.get(f"{world.server.url}/api/v1/namespaces/{NS}/bogus").status_code == 404
    assert httpx.get(f"{world.server.url}/openapi/v2").status_code == 404
    assert httpx.get(url).json()["kind"] == "ConfigMapList"


def test_log_provider_with_a_timestamps_keyword_is_asked_for_them() -> None:
    calls: list[bool] = []

    def provider(
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        since_seconds: int | None = None,
        tail_lines: int | None = None,
        *,
        timestamps: bool = False,
    ) -> list[str]:
        calls.append(timestamps)
        return [("2026-01-01T00:00:00.123456789Z " if timestamps else "") + f"hello from {pod}"]

    store = Store()
    seed(store)
    with start_kube_api(store, log_provider=provider) as server:
        url = f"{server.url}/api/v1/namespaces/{NS}/pods/api-h2-0/log"
        stamped, plain = httpx.get(f"{url}?timestamps=true").text, httpx.get(url).text
    assert stamped == "2026-01-01T00:00:00.123456789Z hello from api-h2-0\n"
    assert plain == "hello from api-h2-0\n" and calls == [True, False]


def _eventually(check: Any, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_an_idle_watch_ends_when_the_client_goes_away(world: World) -> None:
    hub = world.server.hub
    url = f"{world.server.url}/api/v1/namespaces/{NS}/pods?watch=true&timeoutSeconds=600"
    with httpx.stream("GET", url, timeout=30) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["type"] == "ADDED"  # the existing pods first
        assert _eventually(lambda: hub.active == 1)
    assert _eventually(lambda: hub.active == 0)


def test_watch_from_a_version_too_old_is_expired(world: World) -> None:
    url = f"{world.server.url}/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion=1&timeoutSeconds=5"
    with httpx.stream("GET", url, timeout=30) as response:
        event = json.loads(next(response.iter_lines()))
    assert event["type"] == "ERROR" and event["object"]["code"] == 410


def test_logs_of_a_container_that_never_ran_are_a_400(world: World, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as no_previous:
        core.read_namespaced_pod_log("api-h2-0", NS, previous=True)
    assert (
        'previous terminated container "api" in pod "api-h2-0" not found'
        in _status(no_previous.value)["message"]
    )
    world.store.mutate(
        "pods",
        NS,
        "api-h2-0",
        lambda p: p["status"]["containerStatuses"][0].update(
            state={"waiting": {"reason": "ImagePullBackOff"}}
        ),
    )
    with pytest.raises(ApiException) as waiting:
        core.read_namespaced_pod_log("api-h2-0", NS)
    assert _status(waiting.value)["message"].endswith("is waiting to start: ImagePullBackOff")


def test_replace_scale_with_a_stale_version_conflicts(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    scale = apps.read_namespaced_deployment_scale("api", NS)
    scale.spec.replicas = 3
    apps.replace_namespaced_deployment_scale("api", NS, scale)
    assert apps.read_namespaced_deployment("api", NS).spec.replicas == 3
    scale.spec.replicas = 6  # scale still carries the resourceVersion from before the first update
    with pytest.raises(ApiException) as conflict:
        apps.replace_namespaced_deployment_scale("api", NS, scale)
    assert conflict.value.status == 409 and apps.read_namespaced_deployment("api", NS).spec.replicas == 3


def test_table_negotiation(world: World) -> None:
    url = f"{world.server.url}/api/v1/namespaces/{NS}/pods"
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = httpx.get(url, params={"includeObject": "Object"}, headers={"Accept": accept}).json()
    assert table["kind"] == "Table" and [c["name"] for c in table["columnDefinitions"]][:3] == [
        "Name",
        "Ready",
        "Status",
    ]
    assert [r["object"]["kind"] for r in table["rows"]] == ["Pod", "Pod"]
    metadata = httpx.get(
        url, headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}
    )
    assert metadata.json()["kind"] == "PartialObjectMetadataList"
    assert httpx.get(url, headers={"Accept": "application/json"}).json()["kind"] == "PodList"


def test_concurrent_writers_and_watchers_see_every_change_in_order(world: World) -> None:
    url = f"{world.server.url}/api/v1/namespaces/{NS}/configmaps"
    rv = httpx.get(url).json()["metadata"]["resourceVersion"]
    seen: list[list[tuple[str, int]]] = [[] for _ in range(3)]

    def watch_into(bucket: list[tuple[str, int]]) -> None:
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "30", "labelSelector": "batch=1"}
        with httpx.stream("GET", url, params=params, timeout=40) as response:
            for line in response.iter_lines():
                event = json.loads(line)
                bucket.append(
                    (event["object"]["metadata"]["name"], int(event["object"]["metadata"]["resourceVersion"]))
                )
                if len(bucket) == 40:
                    return

    def write(prefix: str) -> None:
        with httpx.Client() as http:
            for i in range(20):
                body = {
                    "metadata": {"name": f"{prefix}-{i}", "labels": {"batch": "1"}},
                    "data": {"i": str(i)},
                }
                assert http.post(url, json=body).status_code == 201

    watchers = [threading.Thread(target=watch_into, args=(bucket,)) for bucket in seen]
    writers = [threading.Thread(target=write, args=(p,)) for p in ("a", "b")]
    for t in watchers + writers:
        t.start()
    for t in watchers + writers:
        t.join(timeout=60)
    for bucket in seen:
        assert len(bucket) == 40 and len({name for name, _ in bucket}) == 40
        assert [v for _, v in bucket] == sorted(v for _, v in bucket)


def test_kubeconfigs_of_two_sandboxes_merge(world: World, tmp_path: Any) -> None:
    store = Store()
    with start_kube_api(store) as other:
        second = write_kubeconfig(tmp_path / "second", other.url, context="staging", namespace="default")
        merged = f"{world.kubeconfig}:{second}"
        contexts, _ = config.list_kube_config_contexts(config_file=str(world.kubeconfig))
        assert [c["name"] for c in contexts] == ["sandbox"]
        if shutil.which("kubectl"):
            out = subprocess.run(
                ["kubectl", "config", "view", "-o", "jsonpath={.clusters[*].cluster.server}"],
                env={**os.environ, "KUBECONFIG": merged},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert sorted(out) == sorted([world.server.url, other.url])
        staging = config.new_client_from_config(config_file=str(second), context="staging")
        assert client.CoreV1Api(staging).list_namespaced_pod("default").items == []
