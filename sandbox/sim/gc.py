"""The garbage collector: dependents whose controlling owner is gone are deleted.

A ReplicaSet whose Deployment was deleted (or re-created with a new uid) goes, and so do pods whose
ReplicaSet is gone, like the background cascading deletion of a real cluster. Pods bound to a node
that no longer exists are deleted outright, as the pod garbage collector does.
"""

from __future__ import annotations

import contextlib

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.objects import Clock, Obj, is_terminating, iso, owner_uid
from sandbox.sim.view import StoreView


class GarbageCollector:
    """Deletes orphaned ReplicaSets and pods, one pass per :meth:`sync`."""

    def __init__(self, store: StoreView, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def sync(self) -> None:
        owners = {d["metadata"]["uid"] for d in self._store.list("deployments")}
        for rs in self._store.list("replicasets"):
            uid = owner_uid(rs)
            if uid is not None and uid not in owners and _owner_kind(rs) == "Deployment":
                self._delete("replicasets", rs)
        replica_sets = {rs["metadata"]["uid"] for rs in self._store.list("replicasets")}
        nodes = {n["metadata"]["name"] for n in self._store.list("nodes")}
        for pod in self._store.list("pods"):
            if pod["spec"].get("nodeName") and pod["spec"]["nodeName"] not in nodes:
                self._delete("pods", pod)
                continue
            uid = owner_uid(pod)
            if (
                uid is not None
                and uid not in replica_sets
                and _owner_kind(pod) == "ReplicaSet"
                and not is_terminating(pod)
            ):
                self._delete_pod(pod)

    def _delete(self, resource: str, obj: Obj) -> None:
        with contextlib.suppress(NotFound):
            self._store.delete(resource, obj["metadata"]["namespace"], obj["metadata"]["name"])

    def _delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if not pod["spec"].get("nodeName"):
            self._delete("pods", pod)
            return

        def mark(obj: Obj) -> None:
            obj["metadata"]["deletionTimestamp"] = iso(self._clock())
            obj["metadata"]["deletionGracePeriodSeconds"] = 30

        with contextlib.suppress(NotFound, Conflict):
            self._store.mutate("pods", meta["namespace"], meta["name"], mark)


def _owner_kind(obj: Obj) -> str:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind", ""))
    return ""
