"""The ReplicaSet controller: keeps ``spec.replicas`` pods alive and reports their readiness.

Pods are named ``<replicaset>-<5 random chars>`` with a controller ownerReference. When there are
too many, the ones that matter least go first (unscheduled, then pending, then not ready, then the
ones that restarted most, then the youngest), as in ``pkg/controller/replicaset``. A deleted pod is
replaced on the next pass. Deleting a scheduled pod is graceful: it gets a ``deletionTimestamp``
and the kubelet on its node stops it and removes the object.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.events import EventRecorder
from sandbox.sim.objects import (
    SAFE_ALPHABET,
    Clock,
    Obj,
    condition,
    condition_true,
    is_terminating,
    iso,
    owner_ref,
    owner_uid,
    parse_iso,
)
from sandbox.sim.view import StoreView

COMPONENT = "replicaset-controller"
DEFAULT_TOLERATIONS = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


def pod_ready(pod: Obj) -> bool:
    return condition_true(pod, "Ready")


def pod_available(pod: Obj, min_ready_s: float, now: float) -> bool:
    """Ready for at least ``min_ready_s`` seconds."""
    cond = condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return False
    since = parse_iso(cond.get("lastTransitionTime"))
    return min_ready_s <= 0 or since is None or now - since >= min_ready_s


def _restarts(pod: Obj) -> int:
    return sum(int(c.get("restartCount", 0)) for c in pod.get("status", {}).get("containerStatuses") or [])


def _deletion_rank(pod: Obj) -> tuple[int, int, int, int]:
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(
        pod.get("status", {}).get("phase", "Pending"), 0
    )
    return (1 if pod["spec"].get("nodeName") else 0, phase_rank, 1 if pod_ready(pod) else 0, -_restarts(pod))


def deletion_order(pods: list[Obj]) -> list[Obj]:
    """Pods in the order a ReplicaSet deletes them: least useful first, youngest first among equals."""
    youngest_first = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)
    return sorted(youngest_first, key=_deletion_rank)


class ReplicaSetController:
    """Reconciles every ReplicaSet in the store, one pass per :meth:`sync`."""

    def __init__(
        self, store: StoreView, events: EventRecorder, clock: Clock, rng: random.Random | None = None
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._rng = rng or random.Random()

    def sync(self) -> None:
        pods = self._store.list("pods")
        for rs in self._store.list("replicasets"):
            uid = rs["metadata"]["uid"]
            owned = [p for p in pods if owner_uid(p) == uid]
            try:
                self._sync_one(rs, owned)
            except (NotFound, Conflict):
                continue

    def _sync_one(self, rs: Obj, owned: list[Obj]) -> None:
        active = [
            p
            for p in owned
            if not is_terminating(p) and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        want = int(rs["spec"].get("replicas", 1) or 0)
        if len(active) < want:
            for _ in range(want - len(active)):
                active.append(self._create_pod(rs))
        elif len(active) > want:
            doomed = deletion_order(active)[: len(active) - want]
            for pod in doomed:
                self._delete_pod(rs, pod)
            doomed_names = {p["metadata"]["name"] for p in doomed}
            active = [p for p in active if p["metadata"]["name"] not in doomed_names]
        self._write_status(rs, active)

    def _create_pod(self, rs: Obj) -> Obj:
        meta = rs["metadata"]
        template = copy.deepcopy(rs["spec"]["template"])
        for _ in range(10):
            suffix = "".join(self._rng.choice(SAFE_ALPHABET) for _ in range(5))
            name = f"{meta['name']}-{suffix}"
            if self._store.try_get("pods", meta["namespace"], name) is None:
                break
        spec: dict[str, Any] = template.get("spec", {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("serviceAccountName", "default")
        tolerations = spec.setdefault("tolerations", [])
        for default in DEFAULT_TOLERATIONS:
            if not any(
                t.get("key") == default["key"] and t.get("effect") == "NoExecute" for t in tolerations
            ):
                tolerations.append(dict(default))
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                **template.get("metadata", {}),
                "name": name,
                "generateName": f"{meta['name']}-",
                "namespace": meta["namespace"],
                "ownerReferences": [owner_ref({"apiVersion": "apps/v1", **rs})],
            },
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": _qos_class(spec)},
        }
        created = self._store.create("pods", pod)
        self._events.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}", component=COMPONENT)
        return created

    def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        if pod["spec"].get("nodeName"):
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))

            def mark(obj: Obj) -> None:
                obj["metadata"]["deletionTimestamp"] = iso(self._clock() + grace)
                obj["metadata"]["deletionGracePeriodSeconds"] = grace

            self._store.mutate("pods", meta["namespace"], meta["name"], mark)
        else:
            self._store.delete("pods", meta["namespace"], meta["name"])
        self._events.record(
            rs, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}", component=COMPONENT
        )

    def _write_status(self, rs: Obj, active: list[Obj]) -> None:
        now = self._clock()
        min_ready = float(rs["spec"].get("minReadySeconds", 0) or 0)
        labels = rs["spec"]["template"].get("metadata", {}).get("labels", {})
        counts = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all(p["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
            ),
            "readyReplicas": sum(1 for p in active if pod_ready(p)),
            "availableReplicas": sum(1 for p in active if pod_available(p, min_ready, now)),
        }
        status = {
            "observedGeneration": rs["metadata"].get("generation", 1),
            **{k: v for k, v in counts.items() if v or k == "replicas"},
        }
        if status == rs.get("status"):
            return
        meta = rs["metadata"]
        self._store.mutate(
            "replicasets", meta["namespace"], meta["name"], lambda o: o.__setitem__("status", status)
        )


def _qos_class(spec: Obj) -> str:
    containers = spec.get("containers", [])
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(k) is not None
        and (r.get("requests") or {}).get(k, (r.get("limits") or {}).get(k)) == (r.get("limits") or {}).get(k)
        for r in resources
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"
