"""``k8s_describe``: what ``kubectl describe`` tells a human, in a few hundred tokens."""

from __future__ import annotations

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import ToolError, expected_errors
from tools.kubernetes.client import Kube, Obj, resource_for
from tools.kubernetes.common import Context, Kind, deployment_pods, find_hpa
from tools.kubernetes.reads import recent_events
from tools.kubernetes.rollout import owned_replicasets, revision_of
from tools.kubernetes.shape import (
    endpoint_counts,
    images,
    last_termination,
    node_status,
    object_table,
    pod_phase,
    pod_ready,
    pod_restarts,
    secret_summary,
    to_yaml,
    trim,
)
from tools.redact import redact_obj

EVENTS_SHOWN = 10


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def k8s_describe(
    deps: ToolDeps, kind: Kind, name: str, namespace: str | None = None, context: Context = None
) -> ToolResult:
    """Like kubectl describe: status, containers, related pods, events.
    Example: k8s_describe(kind="deployment", name="api", namespace="ns")"""
    kube = Kube(deps, context)
    res = resource_for(kind)
    ns = (namespace or "default") if res.namespaced else None
    obj = kube.get(kind, name, ns)
    obj.setdefault("kind", res.kind)
    describer = DESCRIBERS.get(res.kind, _describe_generic)
    lines = describer(kube, obj)
    events = recent_events(kube, ns, name=name, minutes=24 * 60)
    if res.kind == "Node":
        events = [e for e in kube.list("event", None) if e.get("involvedObject", {}).get("name") == name][
            :EVENTS_SHOWN
        ]
    lines.append(f"Events ({len(events)}):" if events else "Events: none")
    if events:
        lines.append(object_table("Event", events[:EVENTS_SHOWN]))
    return shaped(deps, f"k8s_describe-{name}", "\n".join(lines), trim(obj))


def _header(obj: Obj) -> list[str]:
    meta = obj.get("metadata", {})
    labels = ",".join(f"{k}={v}" for k, v in (meta.get("labels") or {}).items()) or "<none>"
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return [
        f"{obj.get('kind')} {where}{meta.get('name')}  (created {meta.get('creationTimestamp')})",
        f"Labels: {labels}",
    ]


def _containers(spec: Obj, statuses: list[Obj] | None = None) -> list[str]:
    by_name = {s.get("name"): s for s in statuses or []}
    lines = []
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        lines.append(f"  {c.get('name')}: image {c.get('image')}")
        lines.append(f"    requests {_kv(req) or '-'}; limits {_kv(lim) or '-'}")
        for probe in ("readinessProbe", "livenessProbe"):
            if c.get(probe):
                lines.append(f"    {probe}: {_probe(c[probe])}")
        env = redact_obj(c.get("env") or [])
        if env:
            shown = [
                f"{e.get('name')}={e.get('value', '<from ' + next(iter(e.get('valueFrom', {'ref': 0}))) + '>')}"
                for e in env
            ]
            lines.append(f"    env: {'; '.join(shown)}")
        st = by_name.get(c.get("name"))
        if st:
            state = next(iter(st.get("state") or {"unknown": {}}))
            detail = (st.get("state") or {}).get(state) or {}
            reason = detail.get("reason") or ""
            lines.append(
                f"    state {state}{' (' + reason + ')' if reason else ''}, ready {st.get('ready')}, restarts {st.get('restartCount', 0)}"
            )
            term = (st.get("lastState") or {}).get("terminated")
            if term:
                lines.append(
                    f"    last terminated: {term.get('reason')} exit {term.get('exitCode')} at {term.get('finishedAt')}"
                )
    return lines


def _kv(d: Obj) -> str:
    return ",".join(f"{k}={v}" for k, v in d.items())


def _probe(p: Obj) -> str:
    how = p.get("httpGet") and f"GET {p['httpGet'].get('path')}:{p['httpGet'].get('port')}"
    how = how or (p.get("tcpSocket") and f"tcp :{p['tcpSocket'].get('port')}") or (p.get("exec") and "exec")
    return f"{how} every {p.get('periodSeconds', 10)}s, fail after {p.get('failureThreshold', 3)}"


def _conditions(obj: Obj) -> list[str]:
    conds = obj.get("status", {}).get("conditions") or []
    return [
        f"  {c.get('type')}={c.get('status')}"
        + (f" ({c.get('reason')}: {c.get('message', '')})" if c.get("reason") else "")
        for c in conds
    ]


def _describe_pod(kube: Kube, pod: Obj) -> list[str]:
    spec, st = pod.get("spec", {}), pod.get("status", {})
    lines = _header(pod)
    lines.append(
        f"Status: {pod_phase(pod)}  ready {pod_ready(pod)}  restarts {pod_restarts(pod)}  node {spec.get('nodeName') or '<unscheduled>'}"
    )
    lines.append(
        f"Owner: {(pod['metadata'].get('ownerReferences') or [{}])[0].get('name', '<none>')}  IP {st.get('podIP', '-')}"
    )
    if last_termination(pod):
        lines.append(f"Last termination: {last_termination(pod)}")
    lines.append("Containers:")
    lines += _containers(spec, st.get("containerStatuses"))
    lines.append("Conditions:")
    lines += _conditions(pod)
    return lines


def _describe_deployment(kube: Kube, dep: Obj) -> list[str]:
    spec, st = dep.get("spec", {}), dep.get("status", {})
    ns, name = dep["metadata"].get("namespace", ""), dep["metadata"]["name"]
    lines = _header(dep)
    lines.append(
        f"Replicas: {spec.get('replicas', 1)} desired, {st.get('updatedReplicas', 0)} updated, {st.get('readyReplicas', 0)} ready, "
        f"{st.get('availableReplicas', 0)} available, {st.get('unavailableReplicas', 0)} unavailable; revision {revision_of(dep)}"
    )
    strategy = spec.get("strategy", {})
    lines.append(
        f"Strategy: {strategy.get('type', 'RollingUpdate')} {_kv(strategy.get('rollingUpdate') or {})}"
    )
    selector = _kv(spec.get("selector", {}).get("matchLabels") or {})
    lines.append(f"Selector: {selector}")
    lines.append("Pod template:")
    lines += _containers(spec.get("template", {}).get("spec", {}))
    lines.append("Conditions:")
    lines += _conditions(dep)
    hpa = find_hpa(kube, ns, name)
    if hpa:
        hs, hst = hpa.get("spec", {}), hpa.get("status", {})
        lines.append(
            f"HPA {hpa['metadata']['name']}: min {hs.get('minReplicas', 1)} max {hs.get('maxReplicas')} current {hst.get('currentReplicas')} desired {hst.get('desiredReplicas')}"
        )
    rss = owned_replicasets(kube, dep)
    lines.append("ReplicaSets (newest first):")
    for rs in rss[:5]:
        rst = rs.get("status", {})
        lines.append(
            f"  rev {revision_of(rs)} {rs['metadata']['name']}: {rst.get('readyReplicas', 0)}/{rs.get('spec', {}).get('replicas', 0)} ready, {images(rs['spec']['template']['spec'])}"
        )
    pods = deployment_pods(kube, dep)
    lines.append(f"Pods ({len(pods)}):")
    lines.append(object_table("Pod", pods[:15]))
    return lines


def _describe_service(kube: Kube, svc: Obj) -> list[str]:
    spec = svc.get("spec", {})
    ns, name = svc["metadata"].get("namespace", ""), svc["metadata"]["name"]
    lines = _header(svc)
    selector = spec.get("selector") or {}
    lines.append(
        f"Type {spec.get('type', 'ClusterIP')}  IP {spec.get('clusterIP', '-')}  selector {_kv(selector) or '<none>'}"
    )
    lines += [
        f"  port {p.get('name', '')} {p.get('port')} -> targetPort {p.get('targetPort', p.get('port'))}"
        for p in spec.get("ports") or []
    ]
    matching = kube.list("pod", ns, label_selector=_kv(selector)) if selector else []
    lines.append(f"Pods matching the selector: {len(matching)}")
    try:
        ready, not_ready = endpoint_counts(kube.get("endpoints", name, ns))
        lines.append(f"Endpoints: {ready} ready, {not_ready} not ready")
    except ToolError as exc:  # missing endpoints is itself worth saying
        lines.append(f"Endpoints: none ({exc})")
    return lines


def _describe_node(kube: Kube, node: Obj) -> list[str]:
    spec, st = node.get("spec", {}), node.get("status", {})
    lines = _header(node)
    lines.append(f"Status: {node_status(node)}  unschedulable {bool(spec.get('unschedulable'))}")
    lines += [
        f"  taint {t.get('key')}={t.get('value', '')}:{t.get('effect')}" for t in spec.get("taints") or []
    ]
    lines.append(f"Capacity {_kv(st.get('capacity') or {})}; allocatable {_kv(st.get('allocatable') or {})}")
    lines.append("Conditions:")
    lines += _conditions(node)
    pods = kube.list("pod", None, field_selector=f"spec.nodeName={node['metadata']['name']}")
    pods = [p for p in pods if p.get("spec", {}).get("nodeName") == node["metadata"]["name"]]
    lines.append(f"Pods on node: {len(pods)} ({', '.join(p['metadata']['name'] for p in pods[:12])})")
    return lines


def _describe_secret(kube: Kube, secret: Obj) -> list[str]:
    return [to_yaml(secret_summary(secret))]


def _describe_generic(kube: Kube, obj: Obj) -> list[str]:
    return [to_yaml(trim(obj))]


DESCRIBERS = {
    "Pod": _describe_pod,
    "Deployment": _describe_deployment,
    "Service": _describe_service,
    "Node": _describe_node,
    "Secret": _describe_secret,
}
