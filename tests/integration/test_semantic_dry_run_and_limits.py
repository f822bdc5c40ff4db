"""Dry-run diffs show only semantic changes (no reordered keys, no defaulted empties), and the
stand-in refuses a limit below its request with a real API server's 422, for every write path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401

from tools.deps import Deps
from tools.errors import ToolError
from tools.kubernetes.client import Kube
from tools.kubernetes.effects import yaml_diff
from tools.registry import default_registry

pytestmark = pytest.mark.timeout(60)


def _changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_a_rollback_dry_run_diff_shows_the_image_only(world: World, tmp_path: Path) -> None:
    rs = world.store.get("replicasets", NS, "api-h1")
    container = rs["spec"]["template"]["spec"]["containers"][0]
    # the same template, keys in another order, with the empties a server defaults
    reordered = {
        "env": container["env"],
        "resources": {},
        "image": container["image"],
        "name": container["name"],
    }
    rs["spec"]["template"]["spec"] = {"securityContext": {}, "containers": [reordered]}
    world.store.update("replicasets", rs)
    deps = Deps(kubeconfig=world.kubeconfig, raw_dir=tmp_path)
    rollback = default_registry().get("k8s_rollback")
    assert rollback is not None
    result = rollback.invoke(deps, {"deployment": "api", "namespace": NS, "to_revision": 1}, dry_run=True)
    assert result.status == "ok", result.text
    assert result.effect is not None
    assert _changed_lines(result.effect.diff) == ["-    image: api:v2", "+    image: api:v1"], (
        result.effect.diff
    )


def test_yaml_diff_ignores_order_of_named_items_and_defaulted_empties() -> None:
    before = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "securityContext": {}}
    after = {"containers": [{"image": "y", "name": "b"}, {"name": "a", "image": "x", "args": []}]}
    assert yaml_diff(before, after, "pod") == ""
    changed = {"containers": [{"image": "y", "name": "b"}, {"name": "a", "image": "z"}]}
    assert _changed_lines(yaml_diff(before, changed, "pod")) == ["-- image: x", "+- image: z"]


def _deployment(name: str, request: str, limit: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "x:1",
                            "resources": {"requests": {"memory": request}, "limits": {"memory": limit}},
                        }
                    ]
                },
            },
        },
    }


MESSAGE = 'Invalid value: "128Mi": must be greater than or equal to memory request'


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_memory_limit_below_the_request_is_refused_on_create_and_patch(
    world: World, tmp_path: Path, dry_run: bool
) -> None:
    kube = Kube(Deps(kubeconfig=world.kubeconfig, raw_dir=tmp_path), None)
    query = {"dryRun": "All" if dry_run else None}
    with pytest.raises(ToolError, match=r"HTTP 422.*limits\[memory\]: " + MESSAGE.replace("(", r"\(")):
        kube.request(
            "POST",
            f"/apis/apps/v1/namespaces/{NS}/deployments",
            body=_deployment("low", "256Mi", "128Mi"),
            query=query,
        )
    kube.request(
        "POST", f"/apis/apps/v1/namespaces/{NS}/deployments", body=_deployment("ok", "128Mi", "256Mi")
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "512Mi"}},
                        }
                    ]
                }
            }
        }
    }
    with pytest.raises(ToolError, match="must be greater than or equal to memory request"):
        kube.patch("deployment", "ok", NS, patch, dry_run=dry_run)
    cpu = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "resources": {"limits": {"cpu": "100m"}, "requests": {"cpu": "1"}}}
                    ]
                }
            }
        }
    }
    with pytest.raises(
        ToolError, match='Invalid value: "100m": must be greater than or equal to cpu request'
    ):
        kube.patch("deployment", "ok", NS, cpu, dry_run=dry_run)
    stored = world.store.get("deployments", NS, "ok")
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"memory": "256Mi"}


@needs_kubectl
def test_kubectl_set_resources_and_a_pod_are_refused_too(world: World) -> None:
    done = world.kubectl(
        "-n",
        NS,
        "set",
        "resources",
        "deploy/api",
        "--requests=memory=512Mi",
        "--limits=memory=128Mi",
        check=False,
    )
    assert done.returncode != 0 and "must be greater than or equal to memory request" in done.stderr
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": NS},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "x:1",
                    "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Mi"}},
                }
            ]
        },
    }
    done = world.kubectl("apply", "-f", "-", stdin=json.dumps(pod), check=False)
    assert (
        done.returncode != 0
        and 'Invalid value: "1Mi": must be greater than or equal to memory request' in done.stderr
    )
