"""Helpers the workload analyzers share."""

from __future__ import annotations

from collections import defaultdict

from tools.analyzers.snapshot import Snapshot
from tools.kubernetes.client import Obj


def by_deployment(snap: Snapshot, pods: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = defaultdict(list)
    for p in pods:
        out[snap.deployment_of(p) or p["metadata"]["name"]].append(p)
    return out


def container_statuses(pod: Obj) -> list[Obj]:
    statuses: list[Obj] = pod.get("status", {}).get("containerStatuses") or []
    return statuses


def name_list(pods: list[Obj], limit: int = 3) -> str:
    names = [p["metadata"]["name"] for p in pods]
    return ", ".join(names[:limit]) + (f" (+{len(names) - limit})" if len(names) > limit else "")


def target_ref(snap: Snapshot, kind: str, name: str) -> str:
    return f"{kind}/{snap.namespace}/{name}"
