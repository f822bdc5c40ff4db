"""The node lifecycle controller: taints NotReady nodes and evicts what does not tolerate it.

A node's Ready condition is state set through the API (a fault, or a user); nothing here heals it.
When it is not True, the node gets ``node.kubernetes.io/not-ready`` (or ``unreachable`` for
Unknown) taints with effects NoSchedule and NoExecute, its pods are marked not ready, and pods whose
tolerations for the NoExecute taint expire (``tolerationSeconds``) are marked for deletion. The
kubelet on that node is gone, so those pods stay Terminating while their ReplicaSets create
replacements elsewhere, as on a real cluster. When the node is Ready again the taints are removed.
A cordoned node gets the ``node.kubernetes.io/unschedulable:NoSchedule`` taint, as upstream.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.events import EventRecorder
from sandbox.sim.objects import Clock, Obj, condition, is_terminating, iso, parse_iso, set_condition
from sandbox.sim.scheduler import tolerates
from sandbox.sim.view import StoreView

COMPONENT = "node-controller"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def _wanted_taints(node: Obj) -> tuple[str, ...]:
    cond = condition(node, "Ready")
    status = cond.get("status") if cond else "Unknown"
    if status == "True":
        return ()
    return (UNREACHABLE,) if status == "Unknown" else (NOT_READY,)


class NodeLifecycleController:
    """Keeps node taints in line with node readiness and evicts pods from NotReady nodes."""

    def __init__(self, store: StoreView, events: EventRecorder, clock: Clock) -> None:
        self._store = store
        self._events = events
        self._clock = clock

    def sync(self) -> None:
        pods = self._store.list("pods")
        for node in self._store.list("nodes"):
            try:
                node = self._cordon_taint(node)
                node = self._taint(node)
                if _wanted_taints(node):
                    self._handle_pods(
                        node, [p for p in pods if p["spec"].get("nodeName") == node["metadata"]["name"]]
                    )
            except (NotFound, Conflict):
                continue

    def _cordon_taint(self, node: Obj) -> Obj:
        """A cordoned node (``spec.unschedulable``) carries the unschedulable:NoSchedule taint."""
        spec = node.get("spec") or {}
        taints: list[dict[str, Any]] = list(spec.get("taints") or [])
        has = any(t.get("key") == UNSCHEDULABLE for t in taints)
        if bool(spec.get("unschedulable")) == has:
            return node
        if has:
            keep = [t for t in taints if t.get("key") != UNSCHEDULABLE]
        else:
            keep = [*taints, {"key": UNSCHEDULABLE, "effect": "NoSchedule", "timeAdded": iso(self._clock())}]

        def write(obj: Obj) -> None:
            obj.setdefault("spec", {})["taints"] = keep
            if not keep:
                obj["spec"].pop("taints")

        return self._store.mutate("nodes", "", node["metadata"]["name"], write)

    def _taint(self, node: Obj) -> Obj:
        wanted = _wanted_taints(node)
        taints: list[dict[str, Any]] = list((node.get("spec") or {}).get("taints") or [])
        keep = [t for t in taints if t.get("key") not in (NOT_READY, UNREACHABLE) or t.get("key") in wanted]
        now = iso(self._clock())
        for key in wanted:
            for effect in ("NoSchedule", "NoExecute"):
                if not any(t.get("key") == key and t.get("effect") == effect for t in keep):
                    keep.append(
                        {
                            "key": key,
                            "effect": effect,
                            **({"timeAdded": now} if effect == "NoExecute" else {}),
                        }
                    )
        if keep == taints:
            return node
        if wanted and not any(t.get("key") in wanted for t in taints):
            self._events.record(
                node,
                "Normal",
                "NodeNotReady",
                f"Node {node['metadata']['name']} status is now: NodeNotReady",
                component=COMPONENT,
            )
        elif not wanted:
            self._events.record(
                node,
                "Normal",
                "NodeReady",
                f"Node {node['metadata']['name']} status is now: NodeReady",
                component="kubelet",
                host=node["metadata"]["name"],
            )

        def write(obj: Obj) -> None:
            obj.setdefault("spec", {})["taints"] = keep
            if not keep:
                obj["spec"].pop("taints")

        return self._store.mutate("nodes", "", node["metadata"]["name"], write)

    def _handle_pods(self, node: Obj, pods: list[Obj]) -> None:
        now = self._clock()
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        for pod in pods:
            if is_terminating(pod):
                continue
            self._mark_not_ready(pod, now)
            if self._evict_due(pod, taints, now):
                self._evict(pod, now)

    def _mark_not_ready(self, pod: Obj, now: float) -> None:
        ready = condition(pod, "Ready")
        if ready is not None and ready.get("status") == "False" and ready.get("reason") == "NodeNotReady":
            return
        stamp = iso(now)

        def mark(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status["conditions"] = set_condition(
                status.get("conditions") or [],
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "NodeNotReady",
                    "message": "",
                    "lastProbeTime": None,
                },
                stamp,
            )
            for container in status.get("containerStatuses") or []:
                container["ready"] = False

        meta = pod["metadata"]
        self._store.mutate("pods", meta["namespace"], meta["name"], mark)
        self._events.record(pod, "Warning", "NodeNotReady", "Node is not ready", component=COMPONENT)

    @staticmethod
    def _evict_due(pod: Obj, taints: list[dict[str, Any]], now: float) -> bool:
        tolerations = pod["spec"].get("tolerations") or []
        for taint in taints:
            matching = [t for t in tolerations if tolerates([t], taint)]
            if not matching:
                return True
            seconds = [t.get("tolerationSeconds") for t in matching]
            if any(s is None for s in seconds):
                continue
            added = parse_iso(taint.get("timeAdded")) or now
            if now >= added + min(float(s) for s in seconds if s is not None):
                return True
        return False

    def _evict(self, pod: Obj, now: float) -> None:
        meta = pod["metadata"]

        def mark(obj: Obj) -> None:
            obj["metadata"]["deletionTimestamp"] = iso(now)
            obj["metadata"]["deletionGracePeriodSeconds"] = 0

        self._store.mutate("pods", meta["namespace"], meta["name"], mark)
        self._events.record(
            pod,
            "Normal",
            "TaintManagerEviction",
            f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
            component="taint-eviction-controller",
        )
