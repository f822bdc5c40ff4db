"""The scheduler: binds pending pods to nodes, or says why it cannot.

Filters as kube-scheduler does (node unschedulable, nodeSelector and required node affinity,
taints with NoSchedule/NoExecute effects against the pod's tolerations, CPU and memory requests
against allocatable), then picks the least-requested node. A pod that fits nowhere stays Pending
with ``PodScheduled=False, reason=Unschedulable`` and a ``FailedScheduling`` event worded like the
real one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.events import EventRecorder
from sandbox.sim.objects import (
    Clock,
    Obj,
    condition_true,
    cpu_millicores,
    is_terminating,
    iso,
    matches_labels,
    memory_mib,
    pod_requests,
    quantity,
    set_condition,
)
from sandbox.sim.view import StoreView

COMPONENT = "default-scheduler"
RETRY_S = 5.0


def tolerates(tolerations: list[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """Whether any toleration matches ``taint`` (key, operator Equal/Exists, value, effect)."""
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator", "Equal") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _affinity_ok(pod: Obj, labels: Mapping[str, str]) -> bool:
    selector = pod["spec"].get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    node_affinity = (pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(matches_labels({"matchExpressions": t.get("matchExpressions") or []}, labels) for t in terms)


def _taint_text(taint: Mapping[str, Any]) -> str:
    return f"{{{taint.get('key')}: {taint.get('value', '')}}}"


class Scheduler:
    """Binds unscheduled pods, one pass per :meth:`sync`."""

    def __init__(self, store: StoreView, events: EventRecorder, clock: Clock) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._next_try: dict[str, float] = {}

    def sync(self) -> None:
        pods = self._store.list("pods")
        pending = [p for p in pods if not p["spec"].get("nodeName") and not is_terminating(p)]
        live = {p["metadata"]["uid"] for p in pending}
        self._next_try = {uid: t for uid, t in self._next_try.items() if uid in live}
        if not pending:
            return
        nodes = self._store.list("nodes")
        bound = [
            p
            for p in pods
            if p["spec"].get("nodeName") and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        now = self._clock()
        for pod in sorted(pending, key=lambda p: p["metadata"].get("creationTimestamp", "")):
            if pod["spec"].get("schedulerName", COMPONENT) != COMPONENT:
                continue
            if now < self._next_try.get(pod["metadata"]["uid"], 0.0):
                continue
            try:
                node = self._schedule(pod, nodes, bound, now)
            except (NotFound, Conflict):
                continue
            if node is not None:
                pod["spec"]["nodeName"] = node
                bound.append(pod)

    def _schedule(self, pod: Obj, nodes: list[Obj], bound: list[Obj], now: float) -> str | None:
        reasons: Counter[str] = Counter()
        fits: list[tuple[float, str]] = []
        cpu, mem = pod_requests(pod)
        for node in nodes:
            reason = self._filter(pod, node, bound, cpu, mem)
            if reason:
                reasons[reason] += 1
            else:
                fits.append((self._score(node, bound, cpu, mem), node["metadata"]["name"]))
        if not fits:
            self._unschedulable(pod, len(nodes), reasons, now)
            return None
        node_name = min(fits)[1]
        self._bind(pod, node_name, now)
        return node_name

    def _filter(self, pod: Obj, node: Obj, bound: list[Obj], cpu: float, mem: float) -> str | None:
        spec = node.get("spec") or {}
        tolerations = pod["spec"].get("tolerations") or []
        if spec.get("unschedulable") and not tolerates(
            tolerations, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        ):
            return "node(s) were unschedulable"
        if not _affinity_ok(pod, node["metadata"].get("labels") or {}):
            return "node(s) didn't match Pod's node affinity/selector"
        taints = list(spec.get("taints") or [])
        if not condition_true(node, "Ready") and not any(
            t.get("key", "").startswith("node.kubernetes.io/") for t in taints
        ):
            taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
        for taint in taints:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
                return f"node(s) had untolerated taint {_taint_text(taint)}"
        used_cpu, used_mem = self._used(node["metadata"]["name"], bound)
        alloc = (node.get("status") or {}).get("allocatable") or {}
        pods_on_node = sum(1 for p in bound if p["spec"].get("nodeName") == node["metadata"]["name"])
        if "pods" in alloc and pods_on_node + 1 > int(quantity(alloc["pods"])):
            return "Too many pods"
        if cpu and used_cpu + cpu > cpu_millicores(alloc.get("cpu", "0")):
            return "Insufficient cpu"
        if mem and used_mem + mem > memory_mib(alloc.get("memory", "0")):
            return "Insufficient memory"
        return None

    @staticmethod
    def _used(node_name: str, bound: list[Obj]) -> tuple[float, float]:
        cpu = mem = 0.0
        for pod in bound:
            if pod["spec"].get("nodeName") == node_name:
                pod_cpu, pod_mem = pod_requests(pod)
                cpu, mem = cpu + pod_cpu, mem + pod_mem
        return cpu, mem

    def _score(self, node: Obj, bound: list[Obj], cpu: float, mem: float) -> float:
        """Lower is better: the share of allocatable that would be requested (least-allocated)."""
        used_cpu, used_mem = self._used(node["metadata"]["name"], bound)
        alloc = (node.get("status") or {}).get("allocatable") or {}
        cap_cpu = cpu_millicores(alloc.get("cpu", "1")) or 1.0
        cap_mem = memory_mib(alloc.get("memory", "1")) or 1.0
        return ((used_cpu + cpu) / cap_cpu + (used_mem + mem) / cap_mem) / 2

    def _bind(self, pod: Obj, node_name: str, now: float) -> None:
        stamp = iso(now)

        def bind(obj: Obj) -> None:
            obj["spec"]["nodeName"] = node_name
            status = obj.setdefault("status", {})
            others = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp,
                },
                *others,
            ]

        meta = pod["metadata"]
        self._store.mutate("pods", meta["namespace"], meta["name"], bind)
        self._events.record(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {node_name}",
            component=COMPONENT,
        )

    def _unschedulable(self, pod: Obj, total: int, reasons: Counter[str], now: float) -> None:
        parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
        message = (
            f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling."
            if total
            else "no nodes available to schedule pods"
        )
        self._next_try[pod["metadata"]["uid"]] = now + RETRY_S
        stamp = iso(now)
        new = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}

        def mark(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status["phase"] = "Pending"
            status["conditions"] = set_condition(status.get("conditions") or [], new, stamp)

        if pod.get("status", {}).get("conditions") != set_condition(
            pod.get("status", {}).get("conditions") or [], new, stamp
        ):
            meta = pod["metadata"]
            self._store.mutate("pods", meta["namespace"], meta["name"], mark)
        self._events.record(pod, "Warning", "FailedScheduling", message, component=COMPONENT)
