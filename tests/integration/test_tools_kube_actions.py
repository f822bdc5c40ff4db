"""Every action against the Kubernetes stand-in: the dry run changes nothing, applying changes what
the diff said, the undo restores it, and a second identical call is a no-op."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools_world import NS, World, make_world

from tools.base import Tool, ToolResult
from tools.registry import default_registry

REGISTRY = default_registry()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def call(world: World, name: str, args: dict[str, Any], *, dry_run: bool = False) -> ToolResult:
    tool: Tool | None = REGISTRY.get(name)
    assert tool is not None
    result = tool.invoke(world.deps, args, dry_run=dry_run)
    assert result.status == "ok", result.text
    assert result.effect is not None
    return result


def snapshot(world: World) -> list[Any]:
    keep = ("deployments", "horizontalpodautoscalers", "configmaps", "services", "nodes")
    out = []
    for resource, obj in world.store:
        if resource in keep:
            o = copy.deepcopy(obj)
            o["metadata"].pop("resourceVersion", None)
            out.append((resource, o))
    return sorted(out, key=lambda x: (x[0], x[1]["metadata"].get("namespace", ""), x[1]["metadata"]["name"]))


def _untimed(diff: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", diff)


def apply_cycle(world: World, name: str, args: dict[str, Any], settle: float = 0.0) -> ToolResult:
    """dry run (nothing changes) -> apply (changed) -> repeat (no-op); returns the applied result."""
    before = snapshot(world)
    dry = call(world, name, args, dry_run=True)
    assert dry.effect is not None and dry.effect.changed and dry.effect.diff
    assert dry.text.startswith("dry run")
    assert snapshot(world) == before, "the dry run changed the cluster"
    applied = call(world, name, args)
    assert applied.effect is not None and applied.effect.changed
    # the same change as the dry run said (a restart stamps the time it runs: compare without it)
    assert _untimed(applied.effect.diff) == _untimed(dry.effect.diff)
    world.run(settle)
    again = call(world, name, args)
    assert again.effect is not None and not again.effect.changed, again.text
    assert again.text.startswith("no change")
    return applied


def undo(world: World, result: ToolResult) -> ToolResult:
    assert result.effect is not None and result.effect.undo is not None
    return call(world, result.effect.undo.tool, result.effect.undo.args)


def test_rollback_undoes_a_bad_rollout_once(world: World) -> None:
    good = world.image("predictor")
    world.inject("bad-deploy", "predictor")
    world.run(30)
    bad = world.image("predictor")
    assert bad != good
    applied = apply_cycle(world, "k8s_rollback", {"deployment": "predictor", "namespace": NS}, settle=30)
    assert world.image("predictor") == good
    assert f"-    image: {bad}" in applied.text and f"+    image: {good}" in applied.text
    assert applied.effect is not None
    assert applied.effect.target.labels.get("app") == "predictor" and applied.effect.pods_total == 3
    assert applied.effect.pods_disrupted and applied.effect.replicas_before == applied.effect.replicas_after
    # a third "undo to previous" still does not flip back to the bad image
    world.run(30)
    assert not call(world, "k8s_rollback", {"deployment": "predictor", "namespace": NS}).effect.changed  # type: ignore[union-attr]
    assert world.image("predictor") == good
    undo(world, applied)
    assert world.image("predictor") == bad
    # after that roll forward (verify undoing a rollback it misjudged), rolling back works again:
    # the roll forward was a new rollout, not a rollback already done
    world.run(30)
    again = call(world, "k8s_rollback", {"deployment": "predictor", "namespace": NS})
    assert again.effect is not None and again.effect.changed, again.text
    assert world.image("predictor") == good


def test_rollback_to_an_unknown_revision_is_an_error(world: World) -> None:
    result = REGISTRY.get("k8s_rollback").invoke(
        world.deps, {"deployment": "predictor", "namespace": NS, "to_revision": 42}
    )  # type: ignore[union-attr]
    assert (
        result.status == "error"
        and "no revision 42" in result.text
        and "known revisions: 2, 1" in result.text
    )


def test_scale_plain_deployment(world: World) -> None:
    applied = apply_cycle(world, "k8s_scale", {"deployment": "ingest-worker", "namespace": NS, "replicas": 4})
    assert world.get("deployments", "ingest-worker")["spec"]["replicas"] == 4
    assert applied.effect is not None and (applied.effect.replicas_before, applied.effect.replicas_after) == (
        2,
        4,
    )
    assert applied.effect.pods_disrupted == 0
    undo(world, applied)
    assert world.get("deployments", "ingest-worker")["spec"]["replicas"] == 2


def test_scale_down_counts_disrupted_pods(world: World) -> None:
    result = call(
        world, "k8s_scale", {"deployment": "ingest-worker", "namespace": NS, "replicas": 0}, dry_run=True
    )
    assert (
        result.effect is not None and result.effect.pods_disrupted == 2 and result.effect.replicas_after == 0
    )


def test_scale_hpa_managed_deployment_raises_the_hpa_floor(world: World) -> None:
    hpa = world.get("horizontalpodautoscalers", "predictor")
    old_min, old_max = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
    target = old_max + 2
    applied = apply_cycle(
        world, "k8s_scale", {"deployment": "predictor", "namespace": NS, "replicas": target}
    )
    hpa = world.get("horizontalpodautoscalers", "predictor")
    # the ceiling is raised with room above the new floor, so the autoscaler is not pinned at its max
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (target, 2 * target)
    assert "HPA" in applied.text and f"minReplicas: {old_min} -> {target}" in applied.text
    undo(world, applied)
    assert world.get("horizontalpodautoscalers", "predictor")["spec"]["minReplicas"] == old_min


def test_set_image(world: World) -> None:
    old = world.image("api-gateway")
    new = old.rsplit(":", 1)[0] + ":2.6.3"
    args = {"deployment": "api-gateway", "namespace": NS, "container": "api-gateway", "image": new}
    applied = apply_cycle(world, "k8s_set_image", args)
    assert world.image("api-gateway") == new and f"{old} -> {new}" in applied.text
    undo(world, applied)
    assert world.image("api-gateway") == old


def test_set_image_of_a_missing_container(world: World) -> None:
    args = {"deployment": "api-gateway", "namespace": NS, "container": "sidecar", "image": "x:1"}
    result = REGISTRY.get("k8s_set_image").invoke(world.deps, args)  # type: ignore[union-attr]
    assert (
        result.status == "error" and "no container 'sidecar'" in result.text and "api-gateway" in result.text
    )


def test_set_resources(world: World) -> None:
    args = {
        "deployment": "predictor",
        "namespace": NS,
        "container": "predictor",
        "memory_limit": "1536Mi",
        "cpu_request": "750m",
    }
    applied = apply_cycle(world, "k8s_set_resources", args)
    res = world.get("deployments", "predictor")["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["limits"]["memory"] == "1536Mi" and res["requests"]["cpu"] == "750m"
    assert "limits.memory: 768Mi -> 1536Mi" in applied.text
    undo(world, applied)
    res = world.get("deployments", "predictor")["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["limits"]["memory"] == "768Mi" and res["requests"]["cpu"] == "500m"


def test_patch_configmap(world: World) -> None:
    args = {"name": "ingest-worker-config", "namespace": NS, "key": "POOL_SIZE", "value": "4"}
    applied = apply_cycle(world, "k8s_patch_configmap", args)
    assert world.get("configmaps", "ingest-worker-config")["data"]["POOL_SIZE"] == "4"
    assert "-  POOL_SIZE: '8'" in applied.text or "POOL_SIZE: '8'" in applied.text
    undo(world, applied)
    assert world.get("configmaps", "ingest-worker-config")["data"]["POOL_SIZE"] == "8"


def test_patch_configmap_new_key_undo_deletes_it(world: World) -> None:
    applied = call(
        world,
        "k8s_patch_configmap",
        {"name": "predictor-config", "namespace": NS, "key": "NEW", "value": "1"},
    )
    assert world.get("configmaps", "predictor-config")["data"]["NEW"] == "1"
    undo(world, applied)
    assert "NEW" not in world.get("configmaps", "predictor-config")["data"]


def test_patch_service_selector(world: World) -> None:
    old = world.get("services", "predictor")["spec"]["selector"]
    args = {"name": "predictor", "namespace": NS, "selector": {"app": "predictor", "tier": "backend"}}
    applied = apply_cycle(world, "k8s_patch_service", args)
    assert world.get("services", "predictor")["spec"]["selector"] == {"app": "predictor", "tier": "backend"}
    undo(world, applied)
    assert world.get("services", "predictor")["spec"]["selector"] == old


def test_cordon_and_uncordon(world: World) -> None:
    node = world.store.list("nodes")[0]["metadata"]["name"]
    applied = apply_cycle(world, "k8s_cordon", {"node": node})
    assert world.get("nodes", node, None)["spec"]["unschedulable"] is True
    assert (
        applied.effect is not None
        and applied.effect.pods_disrupted == 0
        and applied.effect.target.kind == "Node"
    )
    undo(world, applied)
    assert not world.get("nodes", node, None)["spec"].get("unschedulable")


def test_rollout_restart_repeated_is_a_no_op(world: World) -> None:
    applied = apply_cycle(world, "k8s_rollout_restart", {"deployment": "cache", "namespace": NS})
    annotations = world.get("deployments", "cache")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert applied.effect is not None and applied.effect.undo is None


def test_delete_pod_is_destructive_and_idempotent(world: World) -> None:
    pod = world.cluster.pods(app="predictor")[0]["metadata"]["name"]
    tool = REGISTRY.get("k8s_delete_pod")
    assert tool is not None and tool.risk == "destructive"
    dry = call(world, "k8s_delete_pod", {"pod": pod, "namespace": NS}, dry_run=True)
    assert world.store.try_get("pods", NS, pod) is not None
    assert dry.effect is not None and dry.effect.pods_disrupted == 1 and dry.effect.pods_total == 3
    call(world, "k8s_delete_pod", {"pod": pod, "namespace": NS})
    world.run(30)
    assert world.store.try_get("pods", NS, pod) is None
    again = call(world, "k8s_delete_pod", {"pod": pod, "namespace": NS})
    assert again.effect is not None and not again.effect.changed


def test_actions_on_missing_objects_are_clear_errors(world: World) -> None:
    for name, args in (
        ("k8s_scale", {"deployment": "ghost", "namespace": NS, "replicas": 2}),
        ("k8s_rollback", {"deployment": "ghost", "namespace": NS}),
        ("k8s_patch_configmap", {"name": "ghost", "namespace": NS, "key": "a", "value": "b"}),
        ("k8s_cordon", {"node": "ghost"}),
    ):
        result = REGISTRY.get(name).invoke(world.deps, args)  # type: ignore[union-attr]
        assert result.status == "error" and "ghost not found" in result.text, (name, result.text)


def test_restart_again_after_its_config_changed(world: World) -> None:
    """A repeated restart is a no-op, but not once the config the pods read has changed."""
    args = {"deployment": "ingest-worker", "namespace": NS}
    assert call(world, "k8s_rollout_restart", args).effect.changed  # type: ignore[union-attr]
    assert not call(world, "k8s_rollout_restart", args).effect.changed  # type: ignore[union-attr]
    call(
        world,
        "k8s_patch_configmap",
        {"name": "ingest-worker-config", "namespace": NS, "key": "POOL_SIZE", "value": "6"},
    )
    again = call(world, "k8s_rollout_restart", args)
    assert again.effect is not None and again.effect.changed


def test_restart_after_someone_elses_restart(world: World) -> None:
    world.store.mutate(
        "deployments", NS, "cache",
        lambda d: d["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {}).update(
            {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}),
    )  # fmt: skip
    assert call(world, "k8s_rollout_restart", {"deployment": "cache", "namespace": NS}).effect.changed  # type: ignore[union-attr]
