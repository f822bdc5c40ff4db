"""Shaping Kubernetes objects for a model: trimmed objects, compact tables, no secret values.

Pure functions over the dicts the API serves; no client calls here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from tools.redact import MASK, redact_obj

Obj = dict[str, Any]
NOISY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def trim(obj: Obj) -> Obj:
    """A copy without managedFields, the last-applied annotation and other bookkeeping; secrets masked."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata", {})
    for key in ("managedFields", "selfLink", "uid", "resourceVersion", "generateName"):
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in NOISY_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        meta.pop("annotations", None)
    result: Obj = redact_obj(_drop_defaults(out))
    return result


# Values the API server fills in when a manifest leaves them out: noise for a reader.
_DEFAULTS: dict[str, Any] = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "imagePullPolicy": "IfNotPresent",
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600,
    "minReadySeconds": 0,
    "successThreshold": 1,
    "timeoutSeconds": 1,
    "scheme": "HTTP",
    "protocol": "TCP",
}


def _drop_defaults(value: Any) -> Any:
    """Drop fields equal to their API default, and empty maps and lists."""
    if isinstance(value, dict):
        out = {k: _drop_defaults(v) for k, v in value.items() if not (k in _DEFAULTS and v == _DEFAULTS[k])}
        return {k: v for k, v in out.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_drop_defaults(v) for v in value]
    return value


def to_yaml(obj: Any) -> str:
    """Compact block YAML (stable key order as served)."""
    return yaml.safe_dump(obj, sort_keys=False, width=160, default_flow_style=False).rstrip()


def parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(ts: str | None, now: datetime | None = None) -> str:
    """kubectl-style age: 45s, 12m, 3h, 2d."""
    when = parse_time(ts)
    if when is None:
        return "?"
    secs = max(int(((now or datetime.now(UTC)) - when).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A left-aligned text table."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


# --- pods -----------------------------------------------------------------------------------------
def pod_phase(pod: Obj) -> str:
    """What ``kubectl get pods`` shows in STATUS: a waiting/terminated reason beats the phase."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    for cs in status.get("initContainerStatuses") or []:
        reason = _container_reason(cs)
        if reason and reason not in ("Completed",):
            return f"Init:{reason}"
    reasons = [r for r in (_container_reason(cs) for cs in status.get("containerStatuses") or []) if r]
    if reasons:
        return reasons[0]
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _container_reason(cs: Obj) -> str | None:
    state = cs.get("state") or {}
    if "waiting" in state:
        return str((state["waiting"] or {}).get("reason") or "Waiting")
    if "terminated" in state:
        return str((state["terminated"] or {}).get("reason") or "Terminated")
    return None


def pod_ready(pod: Obj) -> str:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    total = len(statuses) or len(pod.get("spec", {}).get("containers") or [])
    return f"{sum(1 for cs in statuses if cs.get('ready'))}/{total}"


def pod_restarts(pod: Obj) -> int:
    return sum(
        int(cs.get("restartCount") or 0) for cs in pod.get("status", {}).get("containerStatuses") or []
    )


def last_termination(pod: Obj) -> str | None:
    """The reason a container last terminated (OOMKilled, Error, ...), if any."""
    for cs in pod.get("status", {}).get("containerStatuses") or []:
        term = (cs.get("lastState") or {}).get("terminated")
        if term:
            return f"{cs.get('name')}: {term.get('reason') or 'Terminated'} (exit {term.get('exitCode')})"
    return None


def owner_name(obj: Obj) -> str:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return f"{refs[0].get('kind')}/{refs[0].get('name')}" if refs else ""


def images(template_or_pod_spec: Obj) -> str:
    return ",".join(str(c.get("image")) for c in template_or_pod_spec.get("containers") or [])


# --- rows per kind --------------------------------------------------------------------------------
def _meta(o: Obj) -> Obj:
    meta: Obj = o.get("metadata", {})
    return meta


def _pod_row(o: Obj) -> list[Any]:
    spec = o.get("spec", {})
    return [
        _meta(o).get("name"),
        pod_ready(o),
        pod_phase(o),
        pod_restarts(o),
        age(_meta(o).get("creationTimestamp")),
        spec.get("nodeName") or "<none>",
    ]


def _deploy_row(o: Obj) -> list[Any]:
    spec, st = o.get("spec", {}), o.get("status", {})
    return [
        _meta(o).get("name"),
        f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
        st.get("updatedReplicas") or 0,
        st.get("availableReplicas") or 0,
        _meta(o).get("annotations", {}).get(REVISION, "?"),
        images(spec.get("template", {}).get("spec", {})),
        age(_meta(o).get("creationTimestamp")),
    ]


def _rs_row(o: Obj) -> list[Any]:
    spec, st = o.get("spec", {}), o.get("status", {})
    return [
        _meta(o).get("name"),
        spec.get("replicas", 0),
        st.get("replicas") or 0,
        st.get("readyReplicas") or 0,
        _meta(o).get("annotations", {}).get(REVISION, "?"),
        images(spec.get("template", {}).get("spec", {})),
    ]


def _svc_row(o: Obj) -> list[Any]:
    spec = o.get("spec", {})
    ports = ",".join(
        f"{p.get('port')}->{p.get('targetPort', p.get('port'))}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
    return [_meta(o).get("name"), spec.get("type", "ClusterIP"), spec.get("clusterIP", ""), ports, selector]


def endpoint_counts(o: Obj) -> tuple[int, int]:
    ready = sum(len(s.get("addresses") or []) for s in o.get("subsets") or [])
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in o.get("subsets") or [])
    return ready, not_ready


def _ep_row(o: Obj) -> list[Any]:
    ready, not_ready = endpoint_counts(o)
    return [_meta(o).get("name"), ready, not_ready]


def node_status(o: Obj) -> str:
    conds = {c.get("type"): c.get("status") for c in o.get("status", {}).get("conditions") or []}
    status = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if o.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_row(o: Obj) -> list[Any]:
    info = o.get("status", {}).get("nodeInfo", {})
    pressure = [
        t
        for t, s in ((c.get("type"), c.get("status")) for c in o.get("status", {}).get("conditions") or [])
        if t != "Ready" and s == "True"
    ]
    return [
        _meta(o).get("name"),
        node_status(o),
        ",".join(pressure) or "-",
        age(_meta(o).get("creationTimestamp")),
        info.get("kubeletVersion", ""),
    ]


def _hpa_row(o: Obj) -> list[Any]:
    spec, st = o.get("spec", {}), o.get("status", {})
    ref = spec.get("scaleTargetRef", {})
    targets = []
    for m in spec.get("metrics") or []:
        res = m.get("resource") or {}
        goal = (res.get("target") or {}).get("averageUtilization")
        targets.append(f"{res.get('name', m.get('type'))}:{goal}%")
    for m in st.get("currentMetrics") or []:
        res = m.get("resource") or {}
        now = (res.get("current") or {}).get("averageUtilization")
        targets.append(f"now {res.get('name', '')}:{now}%")
    return [
        _meta(o).get("name"),
        f"{ref.get('kind')}/{ref.get('name')}",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas"),
        st.get("currentReplicas"),
        st.get("desiredReplicas"),
        " ".join(targets) or "-",
    ]


def _cm_row(o: Obj) -> list[Any]:
    return [
        _meta(o).get("name"),
        ",".join(sorted((o.get("data") or {}).keys())) or "-",
        age(_meta(o).get("creationTimestamp")),
    ]


def _secret_row(o: Obj) -> list[Any]:
    keys = sorted({*(o.get("data") or {}).keys(), *(o.get("stringData") or {}).keys()})
    return [_meta(o).get("name"), o.get("type", "Opaque"), ",".join(keys) or "-"]


def _event_row(o: Obj) -> list[Any]:
    inv = o.get("involvedObject", {})
    return [
        age(event_time(o)),
        o.get("type"),
        o.get("reason"),
        f"{inv.get('kind')}/{inv.get('name')}",
        o.get("count", 1),
        (o.get("message") or "")[:160],
    ]


def _ns_row(o: Obj) -> list[Any]:
    return [
        _meta(o).get("name"),
        o.get("status", {}).get("phase", ""),
        age(_meta(o).get("creationTimestamp")),
    ]


def _generic_row(o: Obj) -> list[Any]:
    return [_meta(o).get("name"), age(_meta(o).get("creationTimestamp"))]


Row = Callable[[Obj], list[Any]]
ROWS: dict[str, tuple[tuple[str, ...], Row]] = {
    "Pod": (("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"), _pod_row),
    "Deployment": (("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "REVISION", "IMAGES", "AGE"), _deploy_row),
    "ReplicaSet": (("NAME", "DESIRED", "CURRENT", "READY", "REVISION", "IMAGES"), _rs_row),
    "Service": (("NAME", "TYPE", "CLUSTER-IP", "PORTS", "SELECTOR"), _svc_row),
    "Endpoints": (("NAME", "READY-ADDRESSES", "NOT-READY"), _ep_row),
    "Node": (("NAME", "STATUS", "PRESSURE", "AGE", "VERSION"), _node_row),
    "HorizontalPodAutoscaler": (("NAME", "TARGET", "MIN", "MAX", "CURRENT", "DESIRED", "METRICS"), _hpa_row),
    "ConfigMap": (("NAME", "KEYS", "AGE"), _cm_row),
    "Secret": (("NAME", "TYPE", "KEYS (values hidden)"), _secret_row),
    "Event": (("LAST", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"), _event_row),
    "Namespace": (("NAME", "STATUS", "AGE"), _ns_row),
}


def object_table(kind: str, items: Sequence[Obj]) -> str:
    """A kubectl-like table of objects of one kind."""
    headers, row = ROWS.get(kind, (("NAME", "AGE"), _generic_row))
    return table(headers, [row(o) for o in items])


def event_time(ev: Obj) -> str | None:
    """The most recent timestamp of an event (lastTimestamp, eventTime, or creation)."""
    when = ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
    when = when or ev.get("metadata", {}).get("creationTimestamp")
    return str(when) if when else None


def dedupe_events(events: Sequence[Obj]) -> list[Obj]:
    """Fold events with the same object, reason and message; counts add up, newest first."""
    folded: dict[tuple[Any, ...], Obj] = {}
    for ev in events:
        inv = ev.get("involvedObject", {})
        key = (inv.get("kind"), inv.get("name"), ev.get("reason"), ev.get("message"), ev.get("type"))
        if key in folded:
            prev = folded[key]
            prev["count"] = int(prev.get("count") or 1) + int(ev.get("count") or 1)
            if (event_time(ev) or "") > (event_time(prev) or ""):
                prev["lastTimestamp"] = event_time(ev)
        else:
            folded[key] = {**ev, "count": int(ev.get("count") or 1), "lastTimestamp": event_time(ev)}
    return sorted(folded.values(), key=lambda e: e.get("lastTimestamp") or "", reverse=True)


def secret_summary(secret: Obj) -> Obj:
    """Name, type and keys of a Secret; never its values."""
    keys = sorted({*(secret.get("data") or {}).keys(), *(secret.get("stringData") or {}).keys()})
    return {
        "name": _meta(secret).get("name"),
        "namespace": _meta(secret).get("namespace"),
        "type": secret.get("type"),
        "keys": keys,
        "values": MASK,
    }
