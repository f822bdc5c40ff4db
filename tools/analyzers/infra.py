"""Analyzers of services, autoscalers and nodes."""

from __future__ import annotations

from tools.analyzers.common import by_deployment, container_statuses, name_list, target_ref
from tools.analyzers.snapshot import Snapshot
from tools.findings import Finding
from tools.kubernetes.client import Obj
from tools.kubernetes.shape import endpoint_counts


def scaled_to_zero(snap: Snapshot) -> list[Finding]:
    return [
        Finding(
            kind="scaled_to_zero",
            target=target_ref(snap, "Deployment", d["metadata"]["name"]),
            severity="warning",
            summary=f"deployment {d['metadata']['name']} is scaled to 0 replicas",
            evidence=[f"deployment {d['metadata']['name']} spec.replicas=0"],
            data={"deployment": d["metadata"]["name"], "namespace": snap.namespace},
        )
        for d in snap.deployments
        if int(d.get("spec", {}).get("replicas", 1)) == 0
    ]


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def no_endpoints(snap: Snapshot) -> list[Finding]:
    out = []
    eps = {e["metadata"]["name"]: e for e in snap.endpoints}
    for svc in snap.services:
        name, selector = svc["metadata"]["name"], svc.get("spec", {}).get("selector") or {}
        if not selector:
            continue
        ready, not_ready = endpoint_counts(eps.get(name, {}))
        if ready:
            continue
        matching = [p for p in snap.pods if _labels_match(selector, p["metadata"].get("labels") or {})]
        dep = next((d for d in snap.deployments if d["metadata"]["name"] == name), None) or next(
            (
                d
                for d in snap.deployments
                if (d["spec"].get("template", {}).get("metadata", {}).get("labels") or {}).get("app")
                == selector.get("app")
            ),
            None,
        )
        tmpl_labels = (dep or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
        dep_pods = [p for p in snap.pods if dep and snap.deployment_of(p) == dep["metadata"]["name"]]
        mismatch = not matching and bool(dep_pods)  # the workload has pods, the selector misses them
        expected = {k: tmpl_labels[k] for k in selector if k in tmpl_labels} or {
            k: v for k, v in tmpl_labels.items() if k in ("app", "app.kubernetes.io/name")
        }
        why = (
            "selector matches no pods (selector mismatch)"
            if mismatch
            else (f"{len(matching)} matching pods, none ready" if matching else "its workload has no pods")
        )
        out.append(
            Finding(
                kind="no_endpoints",
                target=f"Service/{snap.namespace}/{name}",
                severity="critical",
                summary=f"service {name} has no ready endpoints: {why}",
                evidence=[
                    f"endpoints {name}: {ready} ready, {not_ready} not ready",
                    f"service {name} selector {selector}; pods matching: {len(matching)}",
                ]
                + ([f"deployment {dep['metadata']['name']} pod labels {tmpl_labels}"] if dep else []),
                data={
                    "service": name,
                    "namespace": snap.namespace,
                    "selector": selector,
                    "matching_pods": len(matching),
                    "selector_mismatch": mismatch,
                    "deployment": dep["metadata"]["name"] if dep else None,
                    "expected_selector": expected if mismatch else selector,
                },
            )
        )
        if dep is not None and _is_cache(dep):
            out.append(
                Finding(
                    kind="cache_down",
                    target=f"Deployment/{snap.namespace}/{dep['metadata']['name']}",
                    severity="critical",
                    summary=f"cache {name} has no ready endpoints ({why})",
                    evidence=[f"endpoints {name}: {ready} ready (k8s_describe kind=service name={name})"],
                    data={
                        "deployment": dep["metadata"]["name"],
                        "service": name,
                        "namespace": snap.namespace,
                        "error_ratio": None,
                    },
                )
            )
    return out


def _is_cache(dep: Obj) -> bool:
    """A cache by its tier label or its name (redis, memcached, cache)."""
    labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    name = dep["metadata"]["name"]
    return labels.get("tier") == "cache" or any(word in name for word in ("cache", "redis", "memcached"))


def readiness_failing(snap: Snapshot) -> list[Finding]:
    def unready(p: Obj) -> bool:
        running = p.get("status", {}).get("phase") == "Running"
        return running and any(
            not cs.get("ready") and "running" in (cs.get("state") or {}) for cs in container_statuses(p)
        )

    out = []
    for dep, pods in by_deployment(snap, [p for p in snap.pods if unready(p)]).items():
        names = {p["metadata"]["name"] for p in pods}
        probe = next(
            (
                e.get("message")
                for e in snap.events
                if e.get("reason") == "Unhealthy" and e.get("involvedObject", {}).get("name") in names
            ),
            None,
        )
        out.append(
            Finding(
                kind="readiness_failing",
                target=target_ref(snap, "Deployment", dep),
                severity="warning",
                summary=f"{len(pods)} running pods not ready" + (f": {probe[:140]}" if probe else ""),
                evidence=[f"pods {name_list(pods)}: Running, ready=false"]
                + ([f"event Unhealthy: {probe[:160]}"] if probe else []),
                data={
                    "deployment": dep,
                    "namespace": snap.namespace,
                    "pods": sorted(names),
                    "not_ready": len(pods),
                    "probe_message": probe,
                },
            )
        )
    return out


def hpa_maxed(snap: Snapshot) -> list[Finding]:
    out = []
    for h in snap.hpas:
        spec, st = h.get("spec", {}), h.get("status", {})
        mx, cur = int(spec.get("maxReplicas") or 0), int(st.get("currentReplicas") or 0)
        if not mx or cur < mx:
            continue
        dep = spec.get("scaleTargetRef", {}).get("name")
        out.append(
            Finding(
                kind="hpa_maxed",
                target=target_ref(snap, "Deployment", dep),
                severity="warning",
                summary=f"HPA {h['metadata']['name']} at its maximum: {cur}/{mx} replicas (desired {st.get('desiredReplicas')})",
                evidence=[f"hpa {h['metadata']['name']}: currentReplicas {cur} == maxReplicas {mx}"],
                data={
                    "deployment": dep,
                    "namespace": snap.namespace,
                    "hpa": h["metadata"]["name"],
                    "current_replicas": cur,
                    "hpa_max": mx,
                    "hpa_min": spec.get("minReplicas", 1),
                    "desired_replicas": st.get("desiredReplicas"),
                },
            )
        )
    return out


def nodes(snap: Snapshot) -> list[Finding]:
    out = []
    for n in snap.nodes:
        name = n["metadata"]["name"]
        ready: Obj = next(
            (c for c in n.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        pods_here = [p["metadata"]["name"] for p in snap.pods if p.get("spec", {}).get("nodeName") == name]
        if ready.get("status") != "True":
            out.append(
                Finding(
                    kind="node_not_ready",
                    target=f"Node//{name}",
                    severity="critical",
                    summary=f"node {name} is NotReady since {ready.get('lastTransitionTime', '?')} ({ready.get('reason', 'unknown')}); {len(pods_here)} pods of {snap.namespace} on it",
                    evidence=[
                        f"node {name} condition Ready={ready.get('status', 'Unknown')}: {ready.get('message', '')[:140]}"
                    ],
                    data={"node": name, "since": ready.get("lastTransitionTime"), "pods": pods_here},
                )
            )
        if n.get("spec", {}).get("unschedulable"):
            out.append(
                Finding(
                    kind="node_cordoned",
                    target=f"Node//{name}",
                    severity="info",
                    summary=f"node {name} is cordoned (unschedulable)",
                    evidence=[f"node {name} spec.unschedulable=true"],
                    data={"node": name, "pods": pods_here},
                )
            )
    return out
