"""triage against the simulated platform: each injected fault shows up as the right finding, with
the data fields runbooks template from. (Metric-based findings need real Prometheus: see
test_tools_sandbox.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools_world import NS, World, make_world

from tools.analysis import triage
from tools.changes import recent_changes


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def findings(world: World, service: str | None = None) -> list[dict[str, Any]]:
    args = {"namespace": NS} | ({"service": service} if service else {})
    result = triage.invoke(world.deps, args)
    assert result.status == "ok", result.text
    return list(result.data["findings"])


def of_kind(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in items if f["kind"] == kind]


def test_healthy_platform_has_no_warnings(world: World) -> None:
    items = findings(world)
    assert [f for f in items if f["severity"] != "info"] == []
    result = triage.invoke(world.deps, {"namespace": NS})
    assert "prometheus skipped" in result.text  # said, not silently ignored


def test_bad_deploy_is_a_recent_rollout_with_both_images(world: World) -> None:
    good = world.image("predictor")
    world.inject("bad-deploy", "predictor")
    world.run(30)
    [rollout] = [
        f
        for f in of_kind(findings(world, "predictor"), "recent_rollout")
        if f["data"]["deployment"] == "predictor"
    ]
    data = rollout["data"]
    assert data["image"] == world.image("predictor") and data["previous_image"] == good
    assert data["revision"] == data["previous_revision"] + 1 and data["changed_at"]
    assert rollout["target"] == f"Deployment/{NS}/predictor"
    changes = recent_changes.invoke(world.deps, {"namespace": NS, "minutes": 10})
    assert any(c.get("deployment") == "predictor" and c["previous_image"] == good for c in changes.data)


def test_image_pull_error(world: World) -> None:
    world.inject("image-pull", "api-gateway")
    world.run(40)
    [f] = of_kind(findings(world), "image_pull_error")
    assert f["data"]["deployment"] == "api-gateway" and f["data"]["image"].endswith("-hotfix")
    assert f["severity"] == "critical"


def test_crashloop_config(world: World) -> None:
    world.inject("crashloop-config", "predictor")
    world.run(90)
    items = findings(world, "predictor")
    [crash] = of_kind(items, "crash_loop")
    assert crash["data"]["deployment"] == "predictor" and crash["data"]["restarts"] >= 1
    assert items[0]["kind"] in (
        "crash_loop",
        "rollout_stuck",
        "readiness_failing",
        "recent_rollout",
        "config_changed",
    )
    [drift] = [
        f for f in of_kind(items, "config_changed") if f["data"].get("configmap") == "predictor-config"
    ]
    assert (drift["data"]["key"], drift["data"]["previous_value"], drift["data"]["deployment"]) == (
        "WORKERS",
        "4",
        "predictor",
    )
    assert drift["data"]["value"] == world.get("configmaps", "predictor-config")["data"]["WORKERS"]


@pytest.mark.parametrize(
    ("fault", "configmap"),
    [("db-connections", "ingest-worker-config")],
)
def test_config_faults_name_the_key_and_its_previous_value(world: World, fault: str, configmap: str) -> None:
    before = dict(world.get("configmaps", configmap)["data"])
    world.inject(fault)
    world.run(20)
    after = world.get("configmaps", configmap)["data"]
    [changed_key] = [k for k in before if before[k] != after.get(k)]
    [f] = [f for f in of_kind(findings(world), "config_changed") if f["data"]["configmap"] == configmap]
    assert (f["data"]["key"], f["data"]["previous_value"], f["data"]["value"]) == (
        changed_key,
        before[changed_key],
        after[changed_key],
    )
    assert f["data"]["deployment"] == "ingest-worker"


def test_pending_pods(world: World) -> None:
    world.inject("pending-pod", "ingest-worker")
    world.run(30)
    [f] = of_kind(findings(world), "pods_pending")
    assert f["data"]["deployment"] == "ingest-worker" and f["data"]["pods"]


def test_selector_mismatch(world: World) -> None:
    original = world.get("services", "predictor")["spec"]["selector"]
    world.inject("selector-mismatch", "predictor")
    world.run(20)
    [f] = [f for f in of_kind(findings(world), "no_endpoints") if f["data"]["service"] == "predictor"]
    assert f["data"]["selector_mismatch"] is True and f["data"]["matching_pods"] == 0
    assert f["data"]["deployment"] == "predictor" and f["data"]["expected_selector"] == original


def test_node_not_ready(world: World) -> None:
    fault = world.inject("node-not-ready")
    world.run(60)
    [f] = of_kind(findings(world), "node_not_ready")
    assert f["data"]["node"] == fault.target and f["target"] == f"Node//{fault.target}"


def test_readiness_probe(world: World) -> None:
    world.inject("readiness-probe", "api-gateway")
    world.run(60)
    kinds = {
        f["kind"] for f in findings(world, "api-gateway") if f["data"].get("deployment") == "api-gateway"
    }
    assert kinds & {"readiness_failing", "rollout_stuck"}


def test_cache_down_is_not_a_selector_mismatch(world: World) -> None:
    world.inject("cache-down")
    world.run(30)
    items = findings(world)
    [down] = of_kind(items, "cache_down")
    assert down["data"]["deployment"] == "cache"
    [endpoints] = [f for f in of_kind(items, "no_endpoints") if f["data"]["service"] == "cache"]
    assert endpoints["data"]["selector_mismatch"] is False


def test_a_revert_to_the_applied_config_is_not_a_change(world: World) -> None:
    """A write that restores the applied manifest (a revert, a reset) is not reported as a change."""
    import json

    from tools.kubernetes.object_actions import k8s_patch_configmap

    world.inject("crashloop-config", "predictor")
    world.run(5)
    cm = world.get("configmaps", "predictor-config")
    applied = json.loads(cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])[
        "data"
    ]
    assert cm["data"]["WORKERS"] != applied["WORKERS"]
    revert = k8s_patch_configmap.invoke(
        world.deps,
        {"name": "predictor-config", "namespace": NS, "key": "WORKERS", "value": applied["WORKERS"]},
    )
    assert revert.status == "ok" and world.get("configmaps", "predictor-config")["metadata"].get(
        "managedFields"
    )
    world.run(5)
    assert [
        f for f in of_kind(findings(world), "config_changed") if f["data"]["configmap"] == "predictor-config"
    ] == []


def test_a_configmap_key_no_reader_reads_is_not_a_config_change(world: World) -> None:
    """predictor reads predictor-config key by key; text written under a key nobody reads (planted
    instructions, a note) changes no pod, so it must not block the rollback of a bad deploy."""
    from tools.kubernetes.object_actions import k8s_patch_configmap

    for key, reported in (("NOTES", False), ("WORKERS", True)):
        patched = k8s_patch_configmap.invoke(
            world.deps, {"name": "predictor-config", "namespace": NS, "key": key, "value": "17"}
        )
        assert patched.status == "ok", patched.text
        world.run(2)
        keys = [
            f["data"].get("key")
            for f in of_kind(findings(world), "config_changed")
            if f["data"]["configmap"] == "predictor-config"
        ]
        assert ("NOTES" in keys) is False and (key in keys) is reported, keys
