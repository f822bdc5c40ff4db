"""Analyzers over Kubernetes objects: pods, deployments, services, HPAs, nodes, recent changes."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tools.analyzers.snapshot import Snapshot
from tools.findings import Finding
from tools.kubernetes.client import Obj
from tools.kubernetes.shape import endpoint_counts, images, parse_time, pod_phase, pod_restarts
from tools.redact import is_secret_name

CRASH_RESTARTS = 3
PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


def _group(snap: Snapshot, pods: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = defaultdict(list)
    for p in pods:
        out[snap.deployment_of(p) or p["metadata"]["name"]].append(p)
    return out


def _statuses(pod: Obj) -> list[Obj]:
    statuses: list[Obj] = pod.get("status", {}).get("containerStatuses") or []
    return statuses


def _names(pods: list[Obj], limit: int = 3) -> str:
    names = [p["metadata"]["name"] for p in pods]
    return ", ".join(names[:limit]) + (f" (+{len(names) - limit})" if len(names) > limit else "")


def _target(snap: Snapshot, kind: str, name: str) -> str:
    return f"{kind}/{snap.namespace}/{name}"


def crash_loops(snap: Snapshot) -> list[Finding]:
    bad = [p for p in snap.pods if any(
        (cs.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" or int(cs.get("restartCount") or 0) >= CRASH_RESTARTS
        for cs in _statuses(p))]  # fmt: skip
    out = []
    for dep, pods in _group(snap, bad).items():
        reasons = sorted(
            {
                str(((cs.get("lastState") or {}).get("terminated") or {}).get("reason"))
                for p in pods
                for cs in _statuses(p)
                if (cs.get("lastState") or {}).get("terminated")
            }
        )
        exit_codes = sorted(
            {
                ((cs.get("lastState") or {}).get("terminated") or {}).get("exitCode")
                for p in pods
                for cs in _statuses(p)
                if (cs.get("lastState") or {}).get("terminated")
            },
            key=str,
        )
        container = next(
            (cs.get("name") for p in pods for cs in _statuses(p) if int(cs.get("restartCount") or 0)), None
        )
        restarts = sum(pod_restarts(p) for p in pods)
        last_log = next(
            (
                snap.crash_logs[p["metadata"]["name"]][-1]
                for p in pods
                if snap.crash_logs.get(p["metadata"]["name"])
            ),
            "",
        )
        out.append(Finding(
            kind="crash_loop", target=_target(snap, "Deployment", dep), severity="critical",
            summary=f"{len(pods)} pods crash-looping ({restarts} restarts; last termination {', '.join(reasons) or 'unknown'})"
            + (f"; last log line: {last_log[:200]}" if last_log else ""),
            evidence=[f"pod {p['metadata']['name']}: {pod_phase(p)}, {pod_restarts(p)} restarts (k8s_describe kind=pod)" for p in pods[:3]]
            + ([f"k8s_pod_logs(pod={pods[0]['metadata']['name']!r}, previous=True): {last_log[:200]}"] if last_log else []),
            data={"deployment": dep, "namespace": snap.namespace, "pods": [p["metadata"]["name"] for p in pods], "restarts": restarts,
                  "reasons": reasons, "exit_codes": exit_codes, "container": container, "last_log": last_log},
        ))  # fmt: skip
    return out


def oom_kills(snap: Snapshot) -> list[Finding]:
    hits: dict[str, list[tuple[Obj, Obj]]] = defaultdict(list)
    for p in snap.pods:
        for cs in _statuses(p):
            term = (
                (cs.get("lastState") or {}).get("terminated")
                or (cs.get("state") or {}).get("terminated")
                or {}
            )
            if term.get("reason") == "OOMKilled":
                hits[snap.deployment_of(p) or p["metadata"]["name"]].append((p, cs))
    out = []
    for dep, pairs in hits.items():
        pod, cs = pairs[0]
        spec_c: Obj = next(
            (c for c in pod.get("spec", {}).get("containers") or [] if c.get("name") == cs.get("name")), {}
        )
        limit = ((spec_c.get("resources") or {}).get("limits") or {}).get("memory")
        out.append(Finding(
            kind="oom_killed", target=_target(snap, "Deployment", dep), severity="critical",
            summary=f"container {cs.get('name')} OOMKilled in {len(pairs)} pods (memory limit {limit or 'none'})",
            evidence=[f"pod {p['metadata']['name']} container {c.get('name')}: lastState.terminated.reason=OOMKilled, restarts {c.get('restartCount', 0)}" for p, c in pairs[:3]],
            data={"deployment": dep, "namespace": snap.namespace, "container": cs.get("name"), "memory_limit": limit, "pods": [p["metadata"]["name"] for p, _ in pairs]},
        ))  # fmt: skip
    return out


def image_pull_errors(snap: Snapshot) -> list[Finding]:
    bad = [
        p
        for p in snap.pods
        if any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") in PULL_REASONS for cs in _statuses(p)
        )
    ]
    out = []
    for dep, pods in _group(snap, bad).items():
        cs = next(
            cs
            for cs in _statuses(pods[0])
            if (cs.get("state") or {}).get("waiting", {}).get("reason") in PULL_REASONS
        )
        waiting = cs["state"]["waiting"]
        image = cs.get("image") or next(
            (
                c.get("image")
                for c in pods[0]["spec"].get("containers", [])
                if c.get("name") == cs.get("name")
            ),
            None,
        )
        out.append(Finding(
            kind="image_pull_error", target=_target(snap, "Deployment", dep), severity="critical",
            summary=f"{len(pods)} pods cannot pull image {image} ({waiting.get('reason')})",
            evidence=[f"pod {pods[0]['metadata']['name']}: {waiting.get('reason')}: {(waiting.get('message') or '')[:160]}"],
            data={"deployment": dep, "namespace": snap.namespace, "image": image, "container": cs.get("name"), "pods": [p["metadata"]["name"] for p in pods]},
        ))  # fmt: skip
    return out


def pending_pods(snap: Snapshot) -> list[Finding]:
    pending = [
        p
        for p in snap.pods
        if p.get("status", {}).get("phase") == "Pending" and not p.get("spec", {}).get("nodeName")
    ]
    out = []
    for dep, pods in _group(snap, pending).items():
        names = {p["metadata"]["name"] for p in pods}
        why = next(
            (
                e.get("message")
                for e in snap.events
                if e.get("reason") == "FailedScheduling" and e.get("involvedObject", {}).get("name") in names
            ),
            None,
        )
        cond = next(
            (
                c.get("message")
                for p in pods
                for c in p.get("status", {}).get("conditions") or []
                if c.get("type") == "PodScheduled" and c.get("status") == "False"
            ),
            None,
        )
        reason = why or cond or "not scheduled yet"
        out.append(Finding(
            kind="pods_pending", target=_target(snap, "Deployment", dep), severity="warning",
            summary=f"{len(pods)} pods pending: {reason[:160]}",
            evidence=[f"pods {_names(pods)}: phase Pending, no node (k8s_events name={dep})"],
            data={"deployment": dep, "namespace": snap.namespace, "pods": sorted(names), "reason": reason},
        ))  # fmt: skip
    return out


def stuck_rollouts(snap: Snapshot) -> list[Finding]:
    out = []
    for d in snap.deployments:
        spec, st, name = d.get("spec", {}), d.get("status", {}), d["metadata"]["name"]
        progressing: Obj = next((c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), {})
        want = int(spec.get("replicas", 1))
        deadline = progressing.get("reason") == "ProgressDeadlineExceeded"
        lagging = int(st.get("updatedReplicas") or 0) < want and int(st.get("unavailableReplicas") or 0) > 0
        if not (deadline or (lagging and want > 0)):
            continue
        out.append(Finding(
            kind="rollout_stuck", target=_target(snap, "Deployment", name), severity="critical" if deadline else "warning",
            summary=f"rollout not progressing: {st.get('updatedReplicas', 0)}/{want} updated, {st.get('unavailableReplicas', 0)} unavailable"
            + (" (progress deadline exceeded)" if deadline else ""),
            evidence=[f"deployment {name} status: {progressing.get('reason', 'no Progressing condition')} {progressing.get('message', '')[:120]}"],
            data={"deployment": name, "namespace": snap.namespace, "revision": d["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision"),
                  "image": images(spec.get("template", {}).get("spec", {})), "updated": st.get("updatedReplicas", 0), "desired": want},
        ))  # fmt: skip
    return out


def recent_rollouts(snap: Snapshot) -> list[Finding]:
    out = []
    for c in snap.changes:
        if c.get("kind") != "rollout":
            continue
        keys = ("deployment", "revision", "previous_revision", "image", "previous_image", "changed_at")
        out.append(Finding(
            kind="recent_rollout", target=_target(snap, "Deployment", c["deployment"]), severity="info",
            summary=f"rolled out at {c['changed_at']}: {c['summary']}",
            evidence=[f"ReplicaSet revision {c['revision']} of deployment {c['deployment']} (k8s_rollout_history deployment={c['deployment']})"],
            data={**{k: c.get(k) for k in keys}, "namespace": c.get("namespace"), "change": c.get("change")},
        ))  # fmt: skip
    return out


def _configmaps_used(dep: Obj) -> set[str]:
    spec = dep.get("spec", {}).get("template", {}).get("spec", {})
    names = {v["configMap"]["name"] for v in spec.get("volumes") or [] if v.get("configMap")}
    for c in spec.get("containers") or []:
        names |= {e["configMapRef"]["name"] for e in c.get("envFrom") or [] if e.get("configMapRef")}
        names |= {
            e["valueFrom"]["configMapKeyRef"]["name"]
            for e in c.get("env") or []
            if (e.get("valueFrom") or {}).get("configMapKeyRef")
        }
    return names


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _drift(cm: Obj) -> list[tuple[str, str | None, str | None]]:
    """(key, live value, last applied value) for every key edited since the last ``kubectl apply``."""
    raw = (cm["metadata"].get("annotations") or {}).get(LAST_APPLIED)
    try:
        applied = (json.loads(raw) if raw else {}).get("data") or {}
    except (json.JSONDecodeError, AttributeError):
        return []
    if not raw:
        return []
    live = cm.get("data") or {}
    return [
        (k, live.get(k), applied.get(k))
        for k in sorted(live.keys() | applied.keys())
        if live.get(k) != applied.get(k)
    ]


def config_drift(snap: Snapshot) -> list[Finding]:
    """ConfigMap keys whose live value differs from the last applied manifest, with the previous value."""
    out = []
    # rollouts without an image change (restarts to pick up config), newest first
    restarts = {
        c["deployment"]: c
        for c in snap.changes
        if c.get("kind") == "rollout" and c.get("change") in ("restart", "template")
    }
    for cm in snap.configmaps:
        name = cm["metadata"]["name"]
        users = [d["metadata"]["name"] for d in snap.deployments if name in _configmaps_used(d)]
        order = list(restarts)
        users.sort(
            key=lambda u: (order.index(u) if u in restarts else len(order), u)
        )  # restarted since: the likely victim
        for key, value, previous in _drift(cm):
            secret = is_secret_name(key)
            changed_at = next((restarts[u]["changed_at"] for u in users if u in restarts), None) or (
                ts.strftime("%Y-%m-%dT%H:%M:%SZ") if (ts := _updated_at(cm)) else None)  # fmt: skip
            out.append(Finding(
                kind="config_changed", target=f"ConfigMap/{snap.namespace}/{name}", severity="warning" if users else "info",
                summary=f"configmap {name}: {key} is {'(set)' if secret else value!r}, the last applied manifest says "
                f"{'(set)' if secret else previous!r}" + (f"; read by {', '.join(users)}" if users else ""),
                evidence=[f"configmap {name} data.{key} differs from its {LAST_APPLIED} annotation (k8s_get kind=configmap name={name})"],
                data={"configmap": name, "namespace": snap.namespace, "key": key, "value": None if secret else value,
                      "previous_value": None if secret else previous, "deployments": users, "deployment": users[0] if users else None,
                      "changed_at": changed_at, "source": "last-applied-configuration"},
            ))  # fmt: skip
    return out


def _updated_at(obj: Obj) -> datetime | None:
    times = [parse_time(m.get("time")) for m in obj.get("metadata", {}).get("managedFields") or []]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def config_changes(snap: Snapshot) -> list[Finding]:
    """ConfigMaps written recently, and restarts without an image change of workloads that read one."""
    out = []
    # a configmap created with its workloads is not a change to them; an update after creation is
    updated = {
        c["name"]: c for c in snap.changes if c.get("kind") == "configmap" and c.get("summary") == "updated"
    }
    for name, c in updated.items():
        users = [d["metadata"]["name"] for d in snap.deployments if name in _configmaps_used(d)]
        out.append(Finding(
            kind="config_changed", target=f"ConfigMap/{snap.namespace}/{name}", severity="warning" if users else "info",
            summary=f"configmap {name} {c['summary']} at {c['time']}" + (f"; read by {', '.join(users)}" if users else ""),
            evidence=[f"configmap {name} last written {c['time']} (recent_changes)"],
            data={"configmap": name, "namespace": snap.namespace, "deployments": users, "deployment": users[0] if users else None, "changed_at": c["time"]},
        ))  # fmt: skip
    for c in snap.changes:
        dep = snap.deployment(c.get("deployment", "")) if c.get("kind") == "rollout" else None
        if dep is None or c.get("change") not in ("restart", "template"):
            continue
        # configmaps carrying a last-applied manifest are judged by config_drift: no guessing for them
        tracked = {
            c["metadata"]["name"]
            for c in snap.configmaps
            if LAST_APPLIED in (c["metadata"].get("annotations") or {})
        }
        for cm in sorted(_configmaps_used(dep) - updated.keys() - tracked):
            key, value, line = _key_in_crash_logs(snap, c["deployment"], cm)
            out.append(Finding(
                kind="config_changed", target=f"ConfigMap/{snap.namespace}/{cm}", severity="warning" if key else "info",
                summary=f"deployment {c['deployment']} was restarted at {c['changed_at']} without an image change; it reads configmap {cm}"
                + (f", and its crash log names {key}={value}" if key else ", whose values may have changed just before (the API keeps no history of configmap edits)"),
                evidence=[f"rollout of {c['deployment']}: {c['summary']} (recent_changes)", f"deployment {c['deployment']} reads configmap {cm}"]
                + ([f"crash log: {line[:200]}"] if key else []),
                data={"configmap": cm, "namespace": snap.namespace, "deployments": [c["deployment"]], "deployment": c["deployment"],
                      "changed_at": c["changed_at"], "key": key, "value": value},
            ))  # fmt: skip
    return out


def _key_in_crash_logs(snap: Snapshot, deployment: str, configmap: str) -> tuple[str | None, str | None, str]:
    """A key of the configmap that the deployment's crash logs mention (with its current value)."""
    cm = next((c for c in snap.configmaps if c["metadata"]["name"] == configmap), None)
    if cm is None:
        return None, None, ""
    for pod, lines in snap.crash_logs.items():
        if (
            snap.deployment_of(
                next((p for p in snap.pods if p["metadata"]["name"] == pod), {"metadata": {"name": pod}})
            )
            != deployment
        ):
            continue
        for line in reversed(lines):
            for key, value in (cm.get("data") or {}).items():
                if key in line:
                    return key, value, line
    return None, None, ""


def scaled_to_zero(snap: Snapshot) -> list[Finding]:
    return [
        Finding(kind="scaled_to_zero", target=_target(snap, "Deployment", d["metadata"]["name"]), severity="warning",
                summary=f"deployment {d['metadata']['name']} is scaled to 0 replicas",
                evidence=[f"deployment {d['metadata']['name']} spec.replicas=0"], data={"deployment": d["metadata"]["name"], "namespace": snap.namespace})
        for d in snap.deployments if int(d.get("spec", {}).get("replicas", 1)) == 0
    ]  # fmt: skip


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
            (d for d in snap.deployments if (d["spec"].get("template", {}).get("metadata", {}).get("labels") or {}).get("app") == selector.get("app")), None)  # fmt: skip
        tmpl_labels = (dep or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
        mismatch = not matching and bool(dep)
        expected = {k: tmpl_labels[k] for k in selector if k in tmpl_labels} or {
            k: v for k, v in tmpl_labels.items() if k in ("app", "app.kubernetes.io/name")
        }
        why = (
            "selector matches no pods (selector mismatch)"
            if mismatch
            else (f"{len(matching)} matching pods, none ready" if matching else "no pods")
        )
        out.append(Finding(
            kind="no_endpoints", target=f"Service/{snap.namespace}/{name}", severity="critical",
            summary=f"service {name} has no ready endpoints: {why}",
            evidence=[f"endpoints {name}: {ready} ready, {not_ready} not ready", f"service {name} selector {selector}; pods matching: {len(matching)}"]
            + ([f"deployment {dep['metadata']['name']} pod labels {tmpl_labels}"] if dep else []),
            data={"service": name, "namespace": snap.namespace, "selector": selector, "matching_pods": len(matching), "selector_mismatch": mismatch,
                  "deployment": dep["metadata"]["name"] if dep else None, "expected_selector": expected if mismatch else selector},
        ))  # fmt: skip
    return out


def readiness_failing(snap: Snapshot) -> list[Finding]:
    def unready(p: Obj) -> bool:
        running = p.get("status", {}).get("phase") == "Running"
        return running and any(
            not cs.get("ready") and "running" in (cs.get("state") or {}) for cs in _statuses(p)
        )

    out = []
    for dep, pods in _group(snap, [p for p in snap.pods if unready(p)]).items():
        names = {p["metadata"]["name"] for p in pods}
        probe = next(
            (
                e.get("message")
                for e in snap.events
                if e.get("reason") == "Unhealthy" and e.get("involvedObject", {}).get("name") in names
            ),
            None,
        )
        out.append(Finding(
            kind="readiness_failing", target=_target(snap, "Deployment", dep), severity="warning",
            summary=f"{len(pods)} running pods not ready" + (f": {probe[:140]}" if probe else ""),
            evidence=[f"pods {_names(pods)}: Running, ready=false"] + ([f"event Unhealthy: {probe[:160]}"] if probe else []),
            data={"deployment": dep, "namespace": snap.namespace, "pods": sorted(names), "not_ready": len(pods), "probe_message": probe},
        ))  # fmt: skip
    return out


def hpa_maxed(snap: Snapshot) -> list[Finding]:
    out = []
    for h in snap.hpas:
        spec, st = h.get("spec", {}), h.get("status", {})
        mx, cur = int(spec.get("maxReplicas") or 0), int(st.get("currentReplicas") or 0)
        if not mx or cur < mx:
            continue
        dep = spec.get("scaleTargetRef", {}).get("name")
        out.append(Finding(
            kind="hpa_maxed", target=_target(snap, "Deployment", dep), severity="warning",
            summary=f"HPA {h['metadata']['name']} at its maximum: {cur}/{mx} replicas (desired {st.get('desiredReplicas')})",
            evidence=[f"hpa {h['metadata']['name']}: currentReplicas {cur} == maxReplicas {mx}"],
            data={"deployment": dep, "namespace": snap.namespace, "hpa": h["metadata"]["name"], "current_replicas": cur, "hpa_max": mx,
                  "hpa_min": spec.get("minReplicas", 1), "desired_replicas": st.get("desiredReplicas")},
        ))  # fmt: skip
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
            out.append(Finding(
                kind="node_not_ready", target=f"Node//{name}", severity="critical",
                summary=f"node {name} is NotReady since {ready.get('lastTransitionTime', '?')} ({ready.get('reason', 'unknown')}); {len(pods_here)} pods of {snap.namespace} on it",
                evidence=[f"node {name} condition Ready={ready.get('status', 'Unknown')}: {ready.get('message', '')[:140]}"],
                data={"node": name, "since": ready.get("lastTransitionTime"), "pods": pods_here},
            ))  # fmt: skip
        if n.get("spec", {}).get("unschedulable"):
            out.append(Finding(
                kind="node_cordoned", target=f"Node//{name}", severity="info",
                summary=f"node {name} is cordoned (unschedulable)", evidence=[f"node {name} spec.unschedulable=true"],
                data={"node": name, "pods": pods_here},
            ))  # fmt: skip
    return out


ANALYZERS: list[Callable[[Snapshot], list[Finding]]] = [
    crash_loops, oom_kills, image_pull_errors, pending_pods, stuck_rollouts, recent_rollouts, config_drift, config_changes,
    scaled_to_zero, no_endpoints, readiness_failing, hpa_maxed, nodes,
]  # fmt: skip


def analyze_workloads(snap: Snapshot) -> list[Finding]:
    """Every workload analyzer over one snapshot."""
    out: list[Finding] = []
    for analyzer in ANALYZERS:
        out += analyzer(snap)
    return out


__all__: list[Any] = ["ANALYZERS", "analyze_workloads"]
