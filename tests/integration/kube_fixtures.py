"""A tiny world for the Kubernetes API stand-in tests: one namespace, node, deployment with two
revisions (replica sets api-h1 with image api:v1, api-h2 with api:v2), two pods (one running, one in
CrashLoopBackOff), a service, a config map and a secret; plus helpers to run kubectl against it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.kube import KubeApiServer, start_kube_api, write_kubeconfig
from sandbox.kube.store import Store

NS = "market-predictor"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

Obj = dict[str, Any]


def _owner(kind: str, obj: Obj) -> list[Obj]:
    meta = obj["metadata"]
    return [
        {
            "apiVersion": obj["apiVersion"],
            "kind": kind,
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
        }
    ]


def _template(image: str, extra_labels: dict[str, str] | None = None) -> Obj:
    labels = {"app": "api", **(extra_labels or {})}
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "api", "image": image, "env": [{"name": "MODE", "value": "fast"}]}]},
    }


def seed(store: Store) -> None:
    """Create the fixture objects directly in the store, as the simulation would."""
    store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    store.create(
        "nodes",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/worker": ""}},
            "spec": {},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.32.0"},
            },
        },
    )
    dep = store.create(
        "deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "api",
                "namespace": NS,
                "labels": {"app": "api"},
                "annotations": {"deployment.kubernetes.io/revision": "2"},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "api"}},
                "template": _template("api:v2"),
            },
            "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1},
        },
    )
    rs = {}
    for rev, image in ((1, "api:v1"), (2, "api:v2")):
        hash_label = {"pod-template-hash": f"h{rev}"}
        rs[rev] = store.create(
            "replicasets",
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"api-h{rev}",
                    "namespace": NS,
                    "labels": {"app": "api", **hash_label},
                    "annotations": {
                        "deployment.kubernetes.io/revision": str(rev),
                        "kubernetes.io/change-cause": f"deploy {image}",
                    },
                    "ownerReferences": _owner("Deployment", dep),
                },
                "spec": {
                    "replicas": 2 if rev == 2 else 0,
                    "selector": {"matchLabels": {"app": "api", **hash_label}},
                    "template": _template(image, hash_label),
                },
                "status": {"replicas": 2 if rev == 2 else 0},
            },
        )
    states = [
        ({"running": {"startedAt": "2026-01-01T00:00:00Z"}}, True, 0),
        ({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}, False, 7),
    ]
    for i, (state, ready, restarts) in enumerate(states):
        store.create(
            "pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"api-h2-{i}",
                    "namespace": NS,
                    "labels": {"app": "api", "pod-template-hash": "h2"},
                    "ownerReferences": _owner("ReplicaSet", rs[2]),
                },
                "spec": {"nodeName": "node-1", "containers": [{"name": "api", "image": "api:v2"}]},
                "status": {
                    "phase": "Running",
                    "podIP": f"10.0.0.{i + 1}",
                    "containerStatuses": [
                        {
                            "name": "api",
                            "ready": ready,
                            "restartCount": restarts,
                            "state": state,
                            "image": "api:v2",
                        }
                    ],
                },
            },
        )
    store.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": NS},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    store.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "api-config", "namespace": NS},
            "data": {"A": "1"},
        },
    )
    store.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-secret", "namespace": NS},
            "data": {"p": "eA=="},
        },
    )


def fake_logs(
    namespace: str,
    pod: str,
    container: str,
    previous: bool,
    since_seconds: int | None,
    tail_lines: int | None,
) -> list[str]:
    """Five timestamped lines naming what was asked for, so tests can see the parameters arrive."""
    which = "previous" if previous else "current"
    return [f"2026-01-01T00:00:0{i}Z {pod}/{container} {which} line {i}" for i in range(5)]


@dataclass
class World:
    store: Store
    server: KubeApiServer
    kubeconfig: Path
    cache_dir: Path

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the stand-in; raises with kubectl's stderr when ``check`` and it fails."""
        assert KUBECTL is not None
        cmd = [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=stdin)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> Iterator[World]:
    """A fresh seeded store and API server per test (import ``world_fixture`` to use ``world``)."""
    store = Store()
    seed(store)
    server = start_kube_api(store, log_provider=fake_logs)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
    try:
        yield World(store, server, kubeconfig, tmp_path / "cache")
    finally:
        server.shutdown()
