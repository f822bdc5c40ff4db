"""The endpoints controller: for each Service with a selector, the pods behind it.

Ready pods matching the selector go into ``addresses``, the others into ``notReadyAddresses``
(terminating and unscheduled pods are left out), ports resolved from each service port's
``targetPort`` (a number, or a named container port). A pod whose image does not listen on that
port is still listed, as Kubernetes would; connections to it are refused by the traffic side.
Services without a selector are left alone (their Endpoints are managed by hand).
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.store import Conflict, NotFound
from sandbox.sim.objects import Clock, Obj, condition_true, is_terminating, iso, matches_labels
from sandbox.sim.view import StoreView

MANAGED = "endpoints.kubernetes.io/last-change-trigger-time"


def _target_port(port: dict[str, Any], pod: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if str(target).isdigit():
        return int(str(target))
    for container in pod["spec"].get("containers", []):
        for declared in container.get("ports") or []:
            if declared.get("name") == target:
                return int(declared["containerPort"])
    return None


def _address(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {
        "ip": pod.get("status", {}).get("podIP", ""),
        "nodeName": pod["spec"].get("nodeName", ""),
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        },
    }


def subsets_for(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The Endpoints ``subsets`` of ``service`` given all pods of its namespace."""
    selector = service.get("spec", {}).get("selector") or {}
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in pods:
        if is_terminating(pod) or not pod.get("status", {}).get("podIP"):
            continue
        if not matches_labels(selector, pod["metadata"].get("labels")):
            continue
        ports = []
        for port in service["spec"].get("ports") or []:
            number = _target_port(port, pod)
            if number is not None:
                ports.append((port.get("name", ""), number, port.get("protocol", "TCP")))
        if not ports:
            continue
        group = groups.setdefault(tuple(ports), {"addresses": [], "notReadyAddresses": []})
        bucket = "addresses" if condition_true(pod, "Ready") else "notReadyAddresses"
        group[bucket].append(_address(pod))
    subsets = []
    for ports_key, group in sorted(groups.items()):
        subset: Obj = {k: sorted(v, key=lambda a: a["ip"]) for k, v in group.items() if v}
        subset["ports"] = [
            {**({"name": name} if name else {}), "port": number, "protocol": protocol}
            for name, number, protocol in ports_key
        ]
        subsets.append(subset)
    return subsets


class EndpointsController:
    """Writes one Endpoints object per selector Service, only when it changes."""

    def __init__(self, store: StoreView, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def sync(self) -> None:
        services = self._store.list("services")
        pods = self._store.list("pods")
        names = set()
        for service in services:
            meta = service["metadata"]
            names.add((meta["namespace"], meta["name"]))
            if not (service.get("spec") or {}).get("selector"):
                continue
            subsets = subsets_for(
                service, [p for p in pods if p["metadata"]["namespace"] == meta["namespace"]]
            )
            try:
                self._write(service, subsets)
            except (NotFound, Conflict):
                continue
        for endpoints in self._store.list("endpoints"):
            meta = endpoints["metadata"]
            managed = MANAGED in (meta.get("annotations") or {})
            if managed and (meta["namespace"], meta["name"]) not in names:
                try:
                    self._store.delete("endpoints", meta["namespace"], meta["name"])
                except NotFound:
                    continue

    def _write(self, service: Obj, subsets: list[Obj]) -> None:
        meta = service["metadata"]
        current = self._store.try_get("endpoints", meta["namespace"], meta["name"])
        labels = dict(meta.get("labels") or {})
        if current is None:
            self._store.create(
                "endpoints",
                {
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "labels": labels,
                        "annotations": {MANAGED: iso(self._clock())},
                    },
                    "subsets": subsets,
                },
            )
            return
        if (current.get("subsets") or []) == subsets and (current["metadata"].get("labels") or {}) == labels:
            return

        def write(obj: Obj) -> None:
            obj["subsets"] = subsets
            obj["metadata"]["labels"] = labels
            obj["metadata"].setdefault("annotations", {})[MANAGED] = iso(self._clock())

        self._store.mutate("endpoints", meta["namespace"], meta["name"], write)
