"""Fill the fields a real API server always sends, on the way out.

The simulation writes objects straight into the store, and may leave out fields that a real cluster
always reports (a container status's ``imageID``, a node's ``nodeInfo.bootID``, a replica set's
``status.replicas`` ...). The official Python client validates responses against the OpenAPI schema
and rejects an object missing a required field, so every object served is completed here first.
Only missing values are added; nothing present is changed.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

_NODE_INFO = (
    "architecture",
    "bootID",
    "containerRuntimeVersion",
    "kernelVersion",
    "kubeProxyVersion",
    "kubeletVersion",
    "machineID",
    "operatingSystem",
    "osImage",
    "systemUUID",
)


def complete(resource: str, obj: Obj) -> Obj:
    """``obj`` (modified in place and returned) with the required fields of ``resource`` present."""
    if not isinstance(obj, dict):
        return obj
    meta = obj.setdefault("metadata", {})
    for owner in meta.get("ownerReferences") or []:
        for key in ("apiVersion", "kind", "name", "uid"):
            owner.setdefault(key, "")
    fill = _FILLERS.get(resource)
    if fill is not None:
        fill(obj)
    return obj


def _conditions(status: Obj) -> None:
    for cond in status.get("conditions") or []:
        cond.setdefault("type", "")
        cond.setdefault("status", "Unknown")


def _pod(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    spec.setdefault("containers", [])
    status = pod.get("status")
    if not isinstance(status, dict):
        return
    _conditions(status)
    images = {c.get("name"): c.get("image", "") for c in spec.get("containers") or []}
    for cs in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
        cs.setdefault("name", "")
        cs.setdefault("image", images.get(cs["name"], ""))
        cs.setdefault("imageID", "")
        cs.setdefault("ready", False)
        cs.setdefault("restartCount", 0)
        for state_key in ("state", "lastState"):
            terminated = (cs.get(state_key) or {}).get("terminated")
            if isinstance(terminated, dict):
                terminated.setdefault("exitCode", 0)
    for ip_list in ("podIPs", "hostIPs"):
        for entry in status.get(ip_list) or []:
            entry.setdefault("ip", "")


def _workload(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("selector", {})
    spec.setdefault("template", {})
    status = obj.get("status")
    if isinstance(status, dict):
        _conditions(status)
        status.setdefault("replicas", 0)


def _daemonset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("selector", {})
    spec.setdefault("template", {})
    status = obj.get("status")
    if isinstance(status, dict):
        _conditions(status)
        for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"):
            status.setdefault(key, 0)


def _node(node: Obj) -> None:
    status = node.get("status")
    if not isinstance(status, dict):
        return
    _conditions(status)
    info = status.get("nodeInfo")
    if isinstance(info, dict):
        for key in _NODE_INFO:
            info.setdefault(key, "")
    for address in status.get("addresses") or []:
        address.setdefault("type", "InternalIP")
        address.setdefault("address", "")


def _namespace(ns: Obj) -> None:
    status = ns.get("status")
    if isinstance(status, dict):
        _conditions(status)


def _event(event: Obj) -> None:
    event.setdefault("involvedObject", {})


def _hpa(hpa: Obj) -> None:
    hpa.setdefault("spec", {}).setdefault("scaleTargetRef", {"kind": "Deployment", "name": ""})
    status = hpa.get("status")
    if isinstance(status, dict):
        _conditions(status)
        status.setdefault("desiredReplicas", status.get("currentReplicas", 0))


def _service(svc: Obj) -> None:
    for port in (svc.get("spec") or {}).get("ports") or []:
        port.setdefault("port", 0)


_FILLERS = {
    "pods": _pod,
    "deployments": _workload,
    "replicasets": _workload,
    "statefulsets": _workload,
    "daemonsets": _daemonset,
    "nodes": _node,
    "namespaces": _namespace,
    "events": _event,
    "horizontalpodautoscalers": _hpa,
    "services": _service,
}
