"""Kubernetes and Loki read tools against the API stand-ins over a seeded, simulated platform."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools_world import NS, SilentServer, World, make_world

from sandbox.kube.kubeconfig import write_kubeconfig
from tools.changes import recent_changes
from tools.deps import Deps
from tools.kubernetes.describe import k8s_describe
from tools.kubernetes.logs import k8s_pod_logs
from tools.kubernetes.reads import k8s_events, k8s_get, k8s_list
from tools.kubernetes.rollout import k8s_rollout_history
from tools.kubernetes.usage import k8s_resource_usage
from tools.loki import loki_labels, loki_patterns, loki_query


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(tmp_path_factory.mktemp("world"))


def test_list_pods_is_a_table_of_every_pod(world: World) -> None:
    result = k8s_list.invoke(world.deps, {"kind": "pods", "namespace": NS})
    assert result.status == "ok"
    pods = world.store.list("pods", NS)
    assert result.text.splitlines()[0].startswith(f"{len(pods)} pods in {NS}")
    for p in pods:
        assert p["metadata"]["name"] in result.text
    assert "managedFields" not in result.text and "{" not in result.text  # a table, not JSON


def test_list_deployments_shows_images_and_revisions(world: World) -> None:
    result = k8s_list.invoke(
        world.deps, {"kind": "Deployment", "namespace": NS, "label_selector": "app=predictor"}
    )
    row = next(line for line in result.text.splitlines() if line.startswith("predictor"))
    assert world.image("predictor") in row and "3/3" in row


def test_list_nodes_is_cluster_scoped(world: World) -> None:
    result = k8s_list.invoke(world.deps, {"kind": "node", "namespace": NS})
    assert result.text.startswith("3 nodes (cluster)")


def test_list_in_an_empty_namespace_is_no_data(world: World) -> None:
    assert k8s_list.invoke(world.deps, {"kind": "pod", "namespace": "nothing-here"}).status == "no_data"


def test_get_missing_object_says_so(world: World) -> None:
    result = k8s_get.invoke(world.deps, {"kind": "deployment", "name": "nope", "namespace": NS})
    assert result.status == "error"
    assert "Deployment market-predictor/nope not found" in result.text and "k8s_list" in result.text


def test_get_secret_shows_keys_never_values(world: World) -> None:
    secret = world.get("secrets", "feature-store-credentials")
    result = k8s_get.invoke(
        world.deps, {"kind": "secret", "name": "feature-store-credentials", "namespace": NS}
    )
    assert "password" in result.text
    for value in secret["data"].values():
        assert value not in result.text and base64.b64decode(value).decode() not in result.text
        assert value not in str(result.data)


def test_get_configmap_shows_values(world: World) -> None:
    result = k8s_get.invoke(world.deps, {"kind": "cm", "name": "predictor-config", "namespace": NS})
    assert "MODEL_PATH: /models/market-predictor/v14/model.onnx" in result.text


def test_describe_deployment_shows_hpa_replicasets_and_pods(world: World) -> None:
    result = k8s_describe.invoke(world.deps, {"kind": "deployment", "name": "predictor", "namespace": NS})
    assert result.status == "ok"
    assert "HPA predictor" in result.text and "rev 2" in result.text and "rev 1" in result.text
    assert "FEATURE_STORE_PASSWORD=" in result.text
    assert (
        base64.b64decode(world.get("secrets", "feature-store-credentials")["data"]["password"]).decode()
        not in result.text
    )


def test_describe_service_and_node(world: World) -> None:
    svc = k8s_describe.invoke(world.deps, {"kind": "svc", "name": "predictor", "namespace": NS})
    assert "Endpoints: 3 ready, 0 not ready" in svc.text
    node_name = world.store.list("nodes")[0]["metadata"]["name"]
    node = k8s_describe.invoke(world.deps, {"kind": "node", "name": node_name})
    assert "Status: Ready" in node.text and "Pods on node:" in node.text


def test_events_are_folded_and_filtered(world: World) -> None:
    result = k8s_events.invoke(world.deps, {"namespace": NS, "name": "predictor"})
    assert result.status == "ok"
    keys = [(e["object"], e["reason"], e["message"]) for e in result.data]
    assert len(keys) == len(set(keys))
    assert all("predictor" in e["object"] for e in result.data)


def test_pod_logs_of_a_deployment(world: World) -> None:
    result = k8s_pod_logs.invoke(world.deps, {"pod": "deployment/predictor", "namespace": NS, "tail": 20})
    assert result.status == "ok"
    assert "picked predictor-" in result.text.splitlines()[0]


def test_pod_logs_of_a_missing_pod(world: World) -> None:
    result = k8s_pod_logs.invoke(world.deps, {"pod": "ghost-123", "namespace": NS})
    assert result.status == "error" and "not found" in result.text


def test_rollout_history_lists_revisions_with_images(world: World) -> None:
    result = k8s_rollout_history.invoke(world.deps, {"deployment": "predictor", "namespace": NS})
    revisions = {r["revision"]: r for r in result.data}
    assert set(revisions) == {1, 2}
    assert revisions[2]["current"] and revisions[2]["images"] == world.image("predictor")
    assert revisions[1]["images"] != revisions[2]["images"]


def test_resource_usage_without_prometheus_says_no_usage_data(world: World) -> None:
    result = k8s_resource_usage.invoke(world.deps, {"namespace": NS, "deployment": "predictor"})
    assert result.status == "ok"
    assert "no usage data" in result.text and "768Mi" in result.text


def test_loki_reads_the_platform_logs(world: World) -> None:
    labels = loki_labels.invoke(world.deps, {})
    assert {"app", "namespace", "pod"} <= set(labels.data)
    query = f'{{namespace="{NS}", app="predictor"}}'
    lines = loki_query.invoke(world.deps, {"query": query, "minutes": 60, "limit": 20})
    assert lines.status == "ok" and len(lines.data) <= 20
    patterns = loki_patterns.invoke(world.deps, {"query": f'{{namespace="{NS}"}}', "minutes": 60})
    assert patterns.status == "ok" and sum(p["count"] for p in patterns.data) > len(patterns.data)
    bad = loki_query.invoke(world.deps, {"query": "predictor"})
    assert bad.status == "error" and "stream selector" in bad.text


def test_recent_changes_on_the_seeded_cluster_finds_nothing_new(world: World) -> None:
    # the seeded platform has run for days (sandbox.history): its releases and configs are old
    result = recent_changes.invoke(world.deps, {"namespace": NS, "minutes": 30})
    assert result.status == "no_data", result.text
    week = recent_changes.invoke(world.deps, {"namespace": NS, "minutes": 8 * 24 * 60})
    rollouts = {c["deployment"] for c in week.data if c["kind"] == "rollout"}
    assert rollouts == {d["metadata"]["name"] for d in world.store.list("deployments", NS)}


def test_unreachable_cluster(tmp_path: Path) -> None:
    from fakes.observability import closed_port_url

    kubeconfig = write_kubeconfig(tmp_path / "kc", closed_port_url())
    deps = Deps(kubeconfig=kubeconfig, raw_dir=tmp_path)
    result = k8s_list.invoke(deps, {"kind": "pod", "namespace": NS})
    assert result.status == "error" and "cannot reach the Kubernetes API" in result.text


def test_cluster_that_never_answers_times_out(tmp_path: Path) -> None:
    server = SilentServer()
    try:
        deps = Deps(
            kubeconfig=write_kubeconfig(tmp_path / "kc", server.url), raw_dir=tmp_path, http_timeout_s=0.5
        )
        result = k8s_get.invoke(deps, {"kind": "deployment", "name": "api", "namespace": NS})
        assert result.status == "error" and "cannot reach the Kubernetes API" in result.text
        assert "Timeout" in result.text
    finally:
        server.close()


def test_missing_kubeconfig_context(world: World) -> None:
    result = k8s_list.invoke(world.deps, {"kind": "pod", "namespace": NS, "context": "no-such-cluster"})
    assert (
        result.status == "error"
        and "no-such-cluster" in result.text
        and "DEVOPS_AGENT_KUBECONFIG" in result.text
    )


def test_one_deps_works_across_kubeconfig_contexts(world: World, tmp_path: Path) -> None:
    import yaml

    from sandbox.kube.server import start_kube_api
    from sandbox.kube.store import Store

    other = Store()
    other.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    other.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "only-in-staging", "namespace": NS},
            "data": {"a": "1"},
        },
    )
    server = start_kube_api(other)
    try:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "prod",
            "clusters": [{"name": "prod", "cluster": {"server": world.kube.url}}, {"name": "staging", "cluster": {"server": server.url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "u"}}, {"name": "staging", "context": {"cluster": "staging", "user": "u"}}],
        }  # fmt: skip
        path = tmp_path / "multi"
        path.write_text(yaml.safe_dump(config))
        deps = Deps(kubeconfig=path, raw_dir=tmp_path)
        staging = k8s_list.invoke(deps, {"kind": "configmap", "namespace": NS, "context": "staging"})
        prod = k8s_list.invoke(deps, {"kind": "configmap", "namespace": NS})
        assert [c["name"] for c in staging.data] == ["only-in-staging"]
        assert "predictor-config" in {c["name"] for c in prod.data} and "only-in-staging" not in prod.text
        assert deps.kube("staging") is deps.kube("staging") and deps.kube("staging") is not deps.kube(None)
        deps.close()
    finally:
        server.shutdown()
