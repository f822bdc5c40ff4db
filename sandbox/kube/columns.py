"""Per-resource Table columns and row cells, as kubectl's server-side printers produce them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.kube.selectors import selector_string

Obj = dict[str, Any]
AgeFn = Callable[[str | None], str]


@dataclass(frozen=True)
class Columns:
    """Column (name, type, priority) triples and the function that fills one row."""

    columns: tuple[tuple[str, str, int], ...]
    row: Callable[[Obj, AgeFn], list[Any]]


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _created(obj: Obj) -> str | None:
    return _meta(obj).get("creationTimestamp")


# --- pods --------------------------------------------------------------------------------------
def pod_status(pod: Obj) -> tuple[str, int, int, int]:
    """(STATUS, ready containers, total containers, restarts) as ``kubectl get pods`` computes them."""
    status = pod.get("status") or {}
    total = len((pod.get("spec") or {}).get("containers") or [])
    reason = status.get("reason") or status.get("phase") or "Pending"
    ready = restarts = 0
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += int(cs.get("restartCount", 0))
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            signal = terminated.get("signal")
            reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"
        elif cs.get("ready") and "running" in state:
            has_running = True
            ready += 1
        elif "running" not in state and last.get("reason"):
            reason = last["reason"]  # e.g. OOMKilled, with no current state reported yet
    if reason == "Completed" and has_running:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        reason = "Running" if conditions.get("Ready") == "True" else "NotReady"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, ready, total, restarts


def _pod_row(pod: Obj, age: AgeFn) -> list[Any]:
    reason, ready, total, restarts = pod_status(pod)
    restarts_cell = str(restarts)
    last_finish = _last_restart(pod)
    if restarts and last_finish:
        restarts_cell = f"{restarts} ({age(last_finish)} ago)"
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    gates = spec.get("readinessGates") or []
    return [
        _meta(pod).get("name"),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        age(_created(pod)),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _last_restart(pod: Obj) -> str | None:
    finished = [
        str(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    return max((f for f in finished if f), default=None)


# --- workloads ---------------------------------------------------------------------------------
def _containers(obj: Obj) -> list[Obj]:
    return ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []


def _wide_workload(obj: Obj) -> list[Any]:
    containers = _containers(obj)
    return [
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        selector_string((obj.get("spec") or {}).get("selector")) or "<none>",
    ]


def _deployment_row(d: Obj, age: AgeFn) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    desired = spec.get("replicas", 1)
    return [
        _meta(d).get("name"),
        f"{status.get('readyReplicas', 0)}/{desired}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(_created(d)),
        *_wide_workload(d),
    ]


def _replicaset_row(rs: Obj, age: AgeFn) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return [
        _meta(rs).get("name"),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(_created(rs)),
        *_wide_workload(rs),
    ]


def _statefulset_row(sts: Obj, age: AgeFn) -> list[Any]:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [_meta(sts).get("name"), ready, age(_created(sts)), *_wide_workload(sts)[:2]]


def _daemonset_row(ds: Obj, age: AgeFn) -> list[Any]:
    status = ds.get("status") or {}
    node_selector = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "nodeSelector"
    ) or {}
    return [
        _meta(ds).get("name"),
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in node_selector.items()) or "<none>",
        age(_created(ds)),
        *_wide_workload(ds),
    ]


def _hpa_row(hpa: Obj, age: AgeFn) -> list[Any]:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [
        _meta(hpa).get("name"),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _hpa_targets(spec, status),
        spec.get("minReplicas", 1),
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        age(_created(hpa)),
    ]


def _hpa_targets(spec: Obj, status: Obj) -> str:
    current = {
        (m.get("resource") or {}).get("name"): (m.get("resource") or {}).get("current", {})
        for m in status.get("currentMetrics") or []
    }
    parts = []
    for metric in spec.get("metrics") or []:
        resource = metric.get("resource") or {}
        name = resource.get("name", "")
        target = (resource.get("target") or {}).get("averageUtilization")
        now = (current.get(name) or {}).get("averageUtilization")
        shown = f"{now}%" if now is not None else "<unknown>"
        parts.append(f"{name}: {shown}/{target}%" if target is not None else f"{name}: {shown}")
    return ", ".join(parts) or "<none>"


# --- networking and config ---------------------------------------------------------------------
def _service_row(svc: Obj, age: AgeFn) -> list[Any]:
    spec = svc.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    external = ",".join(spec.get("externalIPs") or []) or "<none>"
    selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
    return [
        _meta(svc).get("name"),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ports or "<none>",
        age(_created(svc)),
        selector,
    ]


def _endpoints_row(ep: Obj, age: AgeFn) -> list[Any]:
    addrs = []
    for subset in ep.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or [{}]:
                addrs.append(f"{address.get('ip')}:{port.get('port')}" if port else str(address.get("ip")))
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(ep).get("name"), shown or "<none>", age(_created(ep))]


def _configmap_row(cm: Obj, age: AgeFn) -> list[Any]:
    return [
        _meta(cm).get("name"),
        len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
        age(_created(cm)),
    ]


def _secret_row(s: Obj, age: AgeFn) -> list[Any]:
    return [_meta(s).get("name"), s.get("type", "Opaque"), len(s.get("data") or {}), age(_created(s))]


# --- cluster -----------------------------------------------------------------------------------
def node_status(node: Obj) -> str:
    """``Ready`` / ``NotReady`` / ``Unknown``, plus ``,SchedulingDisabled`` when cordoned."""
    conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    ready = conditions.get("Ready")
    status = "Ready" if ready == "True" else ("NotReady" if ready == "False" else "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_row(node: Obj, age: AgeFn) -> list[Any]:
    labels = _meta(node).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [
        _meta(node).get("name"),
        node_status(node),
        ",".join(roles) or "<none>",
        age(_created(node)),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP") or "<none>",
        addresses.get("ExternalIP") or "<none>",
        info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", "<unknown>"),
    ]


def _namespace_row(ns: Obj, age: AgeFn) -> list[Any]:
    return [_meta(ns).get("name"), (ns.get("status") or {}).get("phase", "Active"), age(_created(ns))]


def _event_row(ev: Obj, age: AgeFn) -> list[Any]:
    involved = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or _created(ev)
    first = ev.get("firstTimestamp") or ev.get("eventTime") or _created(ev)
    source = ev.get("source") or {}
    return [
        age(last),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v)
        or ev.get("reportingComponent", ""),
        str(ev.get("message", "")).strip(),
        age(first),
        ev.get("count", 1),
        _meta(ev).get("name"),
    ]


def _default_row(obj: Obj, age: AgeFn) -> list[Any]:
    return [_meta(obj).get("name"), age(_created(obj))]


_WIDE = (("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1))
COLUMNS: dict[str, Columns] = {
    "pods": Columns(
        (("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
         ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
         ("Readiness Gates", "string", 1)),
        _pod_row,
    ),
    "deployments": Columns(
        (("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "integer", 0),
         ("Available", "integer", 0), ("Age", "string", 0), *_WIDE),
        _deployment_row,
    ),
    "replicasets": Columns(
        (("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
         ("Age", "string", 0), *_WIDE),
        _replicaset_row,
    ),
    "statefulsets": Columns(
        (("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
         ("Images", "string", 1)),
        _statefulset_row,
    ),
    "daemonsets": Columns(
        (("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
         ("Up-to-date", "integer", 0), ("Available", "integer", 0), ("Node Selector", "string", 0),
         ("Age", "string", 0), *_WIDE),
        _daemonset_row,
    ),
    "services": Columns(
        (("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
         ("Port(s)", "string", 0), ("Age", "string", 0), ("Selector", "string", 1)),
        _service_row,
    ),
    "endpoints": Columns((("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)), _endpoints_row),
    "configmaps": Columns((("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)), _configmap_row),
    "secrets": Columns(
        (("Name", "string", 0), ("Type", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)), _secret_row
    ),
    "nodes": Columns(
        (("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
         ("Version", "string", 0), ("Internal-IP", "string", 1), ("External-IP", "string", 1),
         ("OS-Image", "string", 1), ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)),
        _node_row,
    ),
    "namespaces": Columns((("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)), _namespace_row),
    "events": Columns(
        (("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0), ("Object", "string", 0),
         ("Subobject", "string", 1), ("Source", "string", 1), ("Message", "string", 0),
         ("First Seen", "string", 1), ("Count", "string", 1), ("Name", "string", 1)),
        _event_row,
    ),
    "horizontalpodautoscalers": Columns(
        (("Name", "string", 0), ("Reference", "string", 0), ("Targets", "string", 0), ("MinPods", "string", 0),
         ("MaxPods", "integer", 0), ("Replicas", "integer", 0), ("Age", "string", 0)),
        _hpa_row,
    ),
}  # fmt: skip
DEFAULT = Columns((("Name", "string", 0), ("Age", "string", 0)), _default_row)
