"""``recent_changes``: rollouts, restarts, config changes, scaling and node changes in a time window.

The first question an SRE asks. Times come from the objects themselves (ReplicaSet creation,
restart annotations, ``managedFields`` update times, node condition transitions) and from the
controllers' events (scaling), so it works on any cluster without an audit log.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import ToolError, expected_errors
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context
from tools.kubernetes.rollout import revision_of
from tools.kubernetes.shape import CHANGE_CAUSE, age, event_time, images, parse_time, table

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"


def _owner(obj: Obj) -> str | None:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return next((r.get("name") for r in refs if r.get("kind") == "Deployment"), None)


def _changed_container(current: Obj, prev: Obj) -> tuple[str, str]:
    """The container whose image the rollout changed (else the first one), and its previous image."""
    cur = current["spec"]["template"].get("spec", {}).get("containers") or []
    before = {
        c.get("name"): c.get("image")
        for c in prev["spec"]["template"].get("spec", {}).get("containers") or []
    }
    changed = [c for c in cur if before.get(c.get("name")) not in (None, c.get("image"))]
    pick = (changed or cur or [{}])[0]
    name = str(pick.get("name") or "")
    return name, str(before.get(name) or "")


def _updated_at(obj: Obj) -> datetime | None:
    """Last write time: the newest managedFields entry, else the creation time."""
    times = [parse_time(m.get("time")) for m in obj.get("metadata", {}).get("managedFields") or []]
    known = [t for t in times if t is not None]
    return max(known) if known else parse_time(obj.get("metadata", {}).get("creationTimestamp"))


def _rollout_started(rs: Obj, events: list[Obj]) -> datetime | None:
    """When a ReplicaSet became the new one: its creation, or (reused by a rollback) its scale-up from 0."""
    name = rs["metadata"]["name"]
    starts = [
        parse_time(event_time(e))
        for e in events
        if e.get("reason") == "ScalingReplicaSet"
        and re.search(
            rf"\b{re.escape(name)}\b.*\bfrom 0\b|\bfrom 0\b.*\b{re.escape(name)}\b", e.get("message") or ""
        )
    ]
    starts_known = [t for t in starts if t is not None]
    if REVISION_HISTORY in (rs["metadata"].get("annotations") or {}) and starts_known:
        return max(starts_known)
    return parse_time(rs["metadata"].get("creationTimestamp"))


def rollouts(kube: Kube, namespace: str | None, cutoff: datetime, events: list[Obj]) -> list[dict[str, Any]]:
    """Deployments whose current ReplicaSet started rolling out after ``cutoff``."""
    by_dep: dict[tuple[str, str], list[Obj]] = {}
    for rs in kube.list("replicaset", namespace):
        dep = _owner(rs)
        if dep:
            by_dep.setdefault((rs["metadata"]["namespace"], dep), []).append(rs)
    out = []
    for (ns, dep), rss in by_dep.items():
        rss.sort(key=revision_of, reverse=True)
        current, older = rss[0], rss[1:]
        started = _rollout_started(current, events)
        if started is None or started < cutoff or not older:
            continue
        prev = older[0]
        image, prev_image = (
            images(current["spec"]["template"].get("spec", {})),
            images(prev["spec"]["template"].get("spec", {})),
        )
        container, container_prev = _changed_container(current, prev)
        restarted = (current["spec"]["template"].get("metadata", {}).get("annotations") or {}).get(
            RESTARTED_AT
        )
        kind = (
            "rollback"
            if REVISION_HISTORY in (current["metadata"].get("annotations") or {})
            else ("image" if image != prev_image else ("restart" if restarted else "template"))
        )
        out.append(
            {
                "time": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "kind": "rollout",
                "target": f"Deployment/{ns}/{dep}",
                "deployment": dep,
                "namespace": ns,
                "revision": revision_of(current),
                "previous_revision": revision_of(prev),
                "image": image,
                "previous_image": prev_image,
                "container": container,
                "container_previous_image": container_prev,
                "change": kind,
                "changed_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "change_cause": (current["metadata"].get("annotations") or {}).get(CHANGE_CAUSE, ""),
                "summary": f"revision {revision_of(prev)} -> {revision_of(current)} ({kind}: {prev_image} -> {image})"
                if image != prev_image
                else f"revision {revision_of(prev)} -> {revision_of(current)} ({kind}, image {image} unchanged)",
            }
        )
    return out


def object_updates(kube: Kube, namespace: str | None, cutoff: datetime) -> list[dict[str, Any]]:
    """ConfigMaps, Secrets (names only) and Services written after ``cutoff``."""
    out = []
    for kind in ("configmap", "secret", "service"):
        for obj in kube.list(kind, namespace):
            when = _updated_at(obj)
            if when is None or when < cutoff:
                continue
            meta = obj["metadata"]
            created = parse_time(meta.get("creationTimestamp")) == when
            out.append(
                {
                    "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "kind": kind,
                    "target": f"{obj.get('kind', kind)}/{meta.get('namespace')}/{meta['name']}",
                    "name": meta["name"],
                    "namespace": meta.get("namespace"),
                    "summary": "created" if created else "updated",
                }
            )
    return out


def node_changes(kube: Kube, cutoff: datetime) -> list[dict[str, Any]]:
    """Node Ready transitions and cordons after ``cutoff``."""
    out = []
    for node in kube.list("node"):
        name = node["metadata"]["name"]
        for cond in node.get("status", {}).get("conditions") or []:
            when = parse_time(cond.get("lastTransitionTime"))
            if cond.get("type") == "Ready" and when and when >= cutoff:
                state = "Ready" if cond.get("status") == "True" else f"NotReady ({cond.get('reason', '')})"
                out.append(
                    {
                        "time": cond["lastTransitionTime"],
                        "kind": "node",
                        "target": f"Node//{name}",
                        "node": name,
                        "summary": f"became {state}",
                    }
                )
        for taint in node.get("spec", {}).get("taints") or []:
            when = parse_time(taint.get("timeAdded"))
            if when and when >= cutoff:
                out.append(
                    {
                        "time": taint["timeAdded"],
                        "kind": "node",
                        "target": f"Node//{name}",
                        "node": name,
                        "summary": f"taint {taint.get('key')}:{taint.get('effect')} added",
                    }
                )
        if node.get("spec", {}).get("unschedulable") and not any(
            c["node"] == name and "unschedulable" in c["summary"] for c in out
        ):
            out.append(
                {
                    "time": "",
                    "kind": "node",
                    "target": f"Node//{name}",
                    "node": name,
                    "summary": "cordoned (unschedulable; time unknown)",
                }
            )
    return out


def scaling(events: list[Obj], cutoff: datetime) -> list[dict[str, Any]]:
    """Scaling decisions of the deployment controller and HPAs, from events."""
    out = []
    for e in events:
        when = parse_time(event_time(e))
        if e.get("reason") not in ("ScalingReplicaSet", "SuccessfulRescale") or when is None or when < cutoff:
            continue
        inv = e.get("involvedObject", {})
        out.append(
            {
                "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "kind": "scaling",
                "target": f"{inv.get('kind')}/{inv.get('namespace', '')}/{inv.get('name')}",
                "summary": e.get("message", "")
                + (f" (x{e.get('count')})" if int(e.get("count") or 1) > 1 else ""),
            }
        )
    return out


def collect_changes(kube: Kube, namespace: str | None, minutes: int) -> list[dict[str, Any]]:
    """Every change in the window, newest first."""
    cutoff = datetime.now(UTC) - timedelta(minutes=minutes)
    events = kube.list("event", namespace)
    changes = (
        rollouts(kube, namespace, cutoff, events)
        + object_updates(kube, namespace, cutoff)
        + scaling(events, cutoff)
    )
    with contextlib.suppress(ToolError):  # nodes may be forbidden to a namespaced account; the rest helps
        changes += node_changes(kube, cutoff)
    return sorted(changes, key=lambda c: c.get("time") or "", reverse=True)


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def recent_changes(
    deps: ToolDeps, namespace: str | None = None, minutes: int = 60, context: Context = None
) -> ToolResult:
    """What changed: rollouts (images), restarts, config, scaling, nodes.
    Example: recent_changes(namespace="ns", minutes=120)"""
    kube = Kube(deps, context)
    changes = collect_changes(kube, namespace, minutes)
    if not changes:
        return ToolResult.no_data(f"no changes in the last {minutes}m in {namespace or 'the cluster'}")
    scaling_rows = [c for c in changes if c["kind"] == "scaling"]
    main = [c for c in changes if c["kind"] != "scaling"]
    rows = [
        (age(c["time"]) if c["time"] else "?", c["kind"], c["target"], c["summary"])
        for c in [*main, *scaling_rows[:15]]
    ]
    more = f"\n({len(scaling_rows) - 15} more scaling events)" if len(scaling_rows) > 15 else ""
    text = (
        f"{len(changes)} changes in the last {minutes}m\n"
        + table(("AGO", "KIND", "TARGET", "CHANGE"), rows)
        + more
    )
    return shaped(deps, "recent_changes", text, changes)
