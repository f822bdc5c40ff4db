"""Analyzers over Kubernetes objects: pods and deployments here; changes and infrastructure in
``changes.py`` and ``infra.py``; :func:`analyze_workloads` runs them all."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tools.analyzers.changes import config_changes, config_drift, recent_rollouts
from tools.analyzers.common import by_deployment, container_statuses, name_list, target_ref
from tools.analyzers.infra import hpa_maxed, no_endpoints, nodes, readiness_failing, scaled_to_zero
from tools.analyzers.snapshot import Snapshot
from tools.findings import Finding
from tools.kubernetes.client import Obj
from tools.kubernetes.shape import images, pod_phase, pod_restarts

CRASH_RESTARTS = 3
PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


def crash_loops(snap: Snapshot) -> list[Finding]:
    bad = [
        p
        for p in snap.pods
        if any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
            or int(cs.get("restartCount") or 0) >= CRASH_RESTARTS
            for cs in container_statuses(p)
        )
    ]
    out = []
    for dep, pods in by_deployment(snap, bad).items():
        reasons = sorted(
            {
                str(((cs.get("lastState") or {}).get("terminated") or {}).get("reason"))
                for p in pods
                for cs in container_statuses(p)
                if (cs.get("lastState") or {}).get("terminated")
            }
        )
        exit_codes = sorted(
            {
                ((cs.get("lastState") or {}).get("terminated") or {}).get("exitCode")
                for p in pods
                for cs in container_statuses(p)
                if (cs.get("lastState") or {}).get("terminated")
            },
            key=str,
        )
        container = next(
            (
                cs.get("name")
                for p in pods
                for cs in container_statuses(p)
                if int(cs.get("restartCount") or 0)
            ),
            None,
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
        out.append(
            Finding(
                kind="crash_loop",
                target=target_ref(snap, "Deployment", dep),
                severity="critical",
                summary=f"{len(pods)} pods crash-looping ({restarts} restarts; last termination {', '.join(reasons) or 'unknown'})"
                + (f"; last log line: {last_log[:200]}" if last_log else ""),
                evidence=[
                    f"pod {p['metadata']['name']}: {pod_phase(p)}, {pod_restarts(p)} restarts (k8s_describe kind=pod)"
                    for p in pods[:3]
                ]
                + (
                    [f"k8s_pod_logs(pod={pods[0]['metadata']['name']!r}, previous=True): {last_log[:200]}"]
                    if last_log
                    else []
                ),
                data={
                    "deployment": dep,
                    "namespace": snap.namespace,
                    "pods": [p["metadata"]["name"] for p in pods],
                    "restarts": restarts,
                    "reasons": reasons,
                    "exit_codes": exit_codes,
                    "container": container,
                    "last_log": last_log,
                },
            )
        )
    return out


def oom_kills(snap: Snapshot) -> list[Finding]:
    hits: dict[str, list[tuple[Obj, Obj]]] = defaultdict(list)
    for p in snap.pods:
        for cs in container_statuses(p):
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
        out.append(
            Finding(
                kind="oom_killed",
                target=target_ref(snap, "Deployment", dep),
                severity="critical",
                summary=f"container {cs.get('name')} OOMKilled in {len(pairs)} pods (memory limit {limit or 'none'})",
                evidence=[
                    f"pod {p['metadata']['name']} container {c.get('name')}: lastState.terminated.reason=OOMKilled, restarts {c.get('restartCount', 0)}"
                    for p, c in pairs[:3]
                ],
                data={
                    "deployment": dep,
                    "namespace": snap.namespace,
                    "container": cs.get("name"),
                    "memory_limit": limit,
                    "pods": [p["metadata"]["name"] for p, _ in pairs],
                },
            )
        )
    return out


def image_pull_errors(snap: Snapshot) -> list[Finding]:
    bad = [
        p
        for p in snap.pods
        if any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") in PULL_REASONS
            for cs in container_statuses(p)
        )
    ]
    out = []
    for dep, pods in by_deployment(snap, bad).items():
        cs = next(
            cs
            for cs in container_statuses(pods[0])
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
        out.append(
            Finding(
                kind="image_pull_error",
                target=target_ref(snap, "Deployment", dep),
                severity="critical",
                summary=f"{len(pods)} pods cannot pull image {image} ({waiting.get('reason')})",
                evidence=[
                    f"pod {pods[0]['metadata']['name']}: {waiting.get('reason')}: {(waiting.get('message') or '')[:160]}"
                ],
                data={
                    "deployment": dep,
                    "namespace": snap.namespace,
                    "image": image,
                    "container": cs.get("name"),
                    "pods": [p["metadata"]["name"] for p in pods],
                },
            )
        )
    return out


def pending_pods(snap: Snapshot) -> list[Finding]:
    pending = [
        p
        for p in snap.pods
        if p.get("status", {}).get("phase") == "Pending" and not p.get("spec", {}).get("nodeName")
    ]
    out = []
    for dep, pods in by_deployment(snap, pending).items():
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
        out.append(
            Finding(
                kind="pods_pending",
                target=target_ref(snap, "Deployment", dep),
                severity="warning",
                summary=f"{len(pods)} pods pending: {reason[:160]}",
                evidence=[f"pods {name_list(pods)}: phase Pending, no node (k8s_events name={dep})"],
                data={
                    "deployment": dep,
                    "namespace": snap.namespace,
                    "pods": sorted(names),
                    "reason": reason,
                },
            )
        )
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
        out.append(
            Finding(
                kind="rollout_stuck",
                target=target_ref(snap, "Deployment", name),
                severity="critical" if deadline else "warning",
                summary=f"rollout not progressing: {st.get('updatedReplicas', 0)}/{want} updated, {st.get('unavailableReplicas', 0)} unavailable"
                + (" (progress deadline exceeded)" if deadline else ""),
                evidence=[
                    f"deployment {name} status: {progressing.get('reason', 'no Progressing condition')} {progressing.get('message', '')[:120]}"
                ],
                data={
                    "deployment": name,
                    "namespace": snap.namespace,
                    "revision": d["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision"),
                    "image": images(spec.get("template", {}).get("spec", {})),
                    "updated": st.get("updatedReplicas", 0),
                    "desired": want,
                },
            )
        )
    return out


ANALYZERS: list[Callable[[Snapshot], list[Finding]]] = [
    crash_loops,
    oom_kills,
    image_pull_errors,
    pending_pods,
    stuck_rollouts,
    recent_rollouts,
    config_drift,
    config_changes,
    scaled_to_zero,
    no_endpoints,
    readiness_failing,
    hpa_maxed,
    nodes,
]


def analyze_workloads(snap: Snapshot) -> list[Finding]:
    """Every workload analyzer over one snapshot."""
    out: list[Finding] = []
    for analyzer in ANALYZERS:
        out += analyzer(snap)
    return out


__all__: list[Any] = ["ANALYZERS", "analyze_workloads"]
