"""One read of the cluster state the workload analyzers share."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from tools.errors import BackendUnavailable, ToolError
from tools.kubernetes.client import Kube, Obj

_POD_NAME = re.compile(r"^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$")


@dataclass
class Snapshot:
    """Objects of one namespace (nodes are cluster-wide) and the changes of the last hour."""

    namespace: str
    pods: list[Obj] = field(default_factory=list)
    deployments: list[Obj] = field(default_factory=list)
    replicasets: list[Obj] = field(default_factory=list)
    services: list[Obj] = field(default_factory=list)
    endpoints: list[Obj] = field(default_factory=list)
    hpas: list[Obj] = field(default_factory=list)
    nodes: list[Obj] = field(default_factory=list)
    events: list[Obj] = field(default_factory=list)
    configmaps: list[Obj] = field(default_factory=list)
    crash_logs: dict[str, list[str]] = field(
        default_factory=dict
    )  # pod -> last lines of its crashed container
    changes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def deployment_of(self, pod: Obj) -> str | None:
        """The deployment owning a pod (through its ReplicaSet), else guessed from the pod name."""
        refs = pod.get("metadata", {}).get("ownerReferences") or []
        rs_name = next((r.get("name") for r in refs if r.get("kind") == "ReplicaSet"), None)
        for rs in self.replicasets:
            if rs["metadata"]["name"] == rs_name:
                owner = next(
                    (
                        r.get("name")
                        for r in rs["metadata"].get("ownerReferences") or []
                        if r.get("kind") == "Deployment"
                    ),
                    None,
                )
                if owner:
                    return str(owner)
        labels = pod.get("metadata", {}).get("labels") or {}
        for d in self.deployments:
            selector = d.get("spec", {}).get("selector", {}).get("matchLabels") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                return str(d["metadata"]["name"])
        m = _POD_NAME.match(pod.get("metadata", {}).get("name", ""))
        return m.group(1) if m else None

    def deployment(self, name: str) -> Obj | None:
        return next((d for d in self.deployments if d["metadata"]["name"] == name), None)


def take_snapshot(kube: Kube, namespace: str, minutes: int = 60) -> Snapshot:
    """Read everything the analyzers need; a kind the API refuses is noted, not fatal."""
    from tools.changes import collect_changes

    snap = Snapshot(namespace=namespace)
    for attr, kind, ns in (
        ("pods", "pod", namespace),
        ("deployments", "deployment", namespace),
        ("replicasets", "replicaset", namespace),
        ("services", "service", namespace),
        ("endpoints", "endpoints", namespace),
        ("hpas", "hpa", namespace),
        ("events", "event", namespace),
        ("configmaps", "configmap", namespace),
        ("nodes", "node", None),
    ):
        try:
            setattr(snap, attr, kube.list(kind, ns))
        except BackendUnavailable:
            raise
        except ToolError as exc:
            snap.notes.append(f"could not list {kind}s: {exc}")
    with contextlib.suppress(ToolError):
        snap.changes = collect_changes(kube, namespace, minutes)
    snap.crash_logs = _crash_logs(kube, snap)
    return snap


def _crash_logs(kube: Kube, snap: Snapshot, max_pods: int = 3) -> dict[str, list[str]]:
    """The last lines of the previous container of a few restarting pods: they usually say why."""
    restarting = [
        p
        for p in snap.pods
        if any(int(cs.get("restartCount") or 0) for cs in p.get("status", {}).get("containerStatuses") or [])
    ]
    out: dict[str, list[str]] = {}
    for pod in restarting[:max_pods]:
        name = pod["metadata"]["name"]
        with contextlib.suppress(ToolError):
            text = kube.pod_log(name, snap.namespace, tailLines=5, previous="true")
            out[name] = [line for line in text.splitlines() if line.strip()][-3:]
    return out
