"""Analyzers of recent changes: rollouts, and configmaps edited away from their applied manifest."""

from __future__ import annotations

import json
from datetime import datetime

from tools.analyzers.common import target_ref
from tools.analyzers.snapshot import Snapshot
from tools.findings import Finding
from tools.kubernetes.client import Obj
from tools.kubernetes.common import config_keys_read, config_refs
from tools.kubernetes.shape import parse_time
from tools.redact import is_secret_name


def recent_rollouts(snap: Snapshot) -> list[Finding]:
    out = []
    for c in snap.changes:
        if c.get("kind") != "rollout":
            continue
        keys = (
            "deployment",
            "revision",
            "previous_revision",
            "image",
            "previous_image",
            "changed_at",
            "container",
            "container_previous_image",
        )
        out.append(
            Finding(
                kind="recent_rollout",
                target=target_ref(snap, "Deployment", c["deployment"]),
                severity="info",
                summary=f"rolled out at {c['changed_at']}: {c['summary']}",
                evidence=[
                    f"ReplicaSet revision {c['revision']} of deployment {c['deployment']} (k8s_rollout_history deployment={c['deployment']})"
                ],
                data={
                    **{k: c.get(k) for k in keys},
                    "namespace": c.get("namespace"),
                    "change": c.get("change"),
                },
            )
        )
    return out


def _configmaps_used(dep: Obj) -> set[str]:
    return config_refs(dep.get("spec", {}).get("template", {}))[0]


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
            if users and not _readers_of(snap, name, key, users):
                continue  # every reader names the keys it reads, and none reads this one: no pod sees it
            secret = is_secret_name(key)
            changed_at = next((restarts[u]["changed_at"] for u in users if u in restarts), None) or (
                ts.strftime("%Y-%m-%dT%H:%M:%SZ") if (ts := _updated_at(cm)) else None
            )
            out.append(
                Finding(
                    kind="config_changed",
                    target=f"ConfigMap/{snap.namespace}/{name}",
                    severity="warning" if users else "info",
                    summary=f"configmap {name}: {key} is {'(set)' if secret else value!r}, the last applied manifest says "
                    f"{'(set)' if secret else previous!r}"
                    + (f"; read by {', '.join(users)}" if users else ""),
                    evidence=[
                        f"configmap {name} data.{key} differs from its {LAST_APPLIED} annotation (k8s_get kind=configmap name={name})"
                    ],
                    data={
                        "configmap": name,
                        "namespace": snap.namespace,
                        "key": key,
                        "value": None if secret else value,
                        "previous_value": None if secret else previous,
                        "deployments": users,
                        "deployment": users[0] if users else None,
                        "changed_at": changed_at,
                        "source": "last-applied-configuration",
                    },
                )
            )
    return out


def _readers_of(snap: Snapshot, configmap: str, key: str, users: list[str]) -> list[str]:
    """Of the workloads that read a ConfigMap, those that read this key (or every key)."""
    out = []
    for user in users:
        dep = snap.deployment(user)
        reads = config_keys_read(dep.get("spec", {}).get("template", {})) if dep else {}
        keys = reads.get(("ConfigMap", configmap), frozenset())
        if keys is None or key in keys:
            out.append(user)
    return out


def _updated_at(obj: Obj) -> datetime | None:
    times = [parse_time(m.get("time")) for m in obj.get("metadata", {}).get("managedFields") or []]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def config_changes(snap: Snapshot) -> list[Finding]:
    """ConfigMaps written recently, and restarts without an image change of workloads that read one."""
    out = []
    # configmaps carrying a last-applied manifest are judged by config_drift: a write that matches the
    # manifest (a revert, a re-apply) is not a change to report, and there is no guessing for them
    tracked = {
        c["metadata"]["name"]
        for c in snap.configmaps
        if LAST_APPLIED in (c["metadata"].get("annotations") or {})
    }
    # a configmap created with its workloads is not a change to them; an update after creation is
    updated = {
        c["name"]: c
        for c in snap.changes
        if c.get("kind") == "configmap" and c.get("summary") == "updated" and c["name"] not in tracked
    }
    for name, c in updated.items():
        users = [d["metadata"]["name"] for d in snap.deployments if name in _configmaps_used(d)]
        out.append(
            Finding(
                kind="config_changed",
                target=f"ConfigMap/{snap.namespace}/{name}",
                severity="warning" if users else "info",
                summary=f"configmap {name} {c['summary']} at {c['time']}"
                + (f"; read by {', '.join(users)}" if users else ""),
                evidence=[f"configmap {name} last written {c['time']} (recent_changes)"],
                data={
                    "configmap": name,
                    "namespace": snap.namespace,
                    "deployments": users,
                    "deployment": users[0] if users else None,
                    "changed_at": c["time"],
                },
            )
        )
    for c in snap.changes:
        dep = snap.deployment(c.get("deployment", "")) if c.get("kind") == "rollout" else None
        if dep is None or c.get("change") not in ("restart", "template"):
            continue
        for cm in sorted(_configmaps_used(dep) - updated.keys() - tracked):
            key, value, line = _key_in_crash_logs(snap, c["deployment"], cm)
            out.append(
                Finding(
                    kind="config_changed",
                    target=f"ConfigMap/{snap.namespace}/{cm}",
                    severity="warning" if key else "info",
                    summary=f"deployment {c['deployment']} was restarted at {c['changed_at']} without an image change; it reads configmap {cm}"
                    + (
                        f", and its crash log names {key}={value}"
                        if key
                        else ", whose values may have changed just before (the API keeps no history of configmap edits)"
                    ),
                    evidence=[
                        f"rollout of {c['deployment']}: {c['summary']} (recent_changes)",
                        f"deployment {c['deployment']} reads configmap {cm}",
                    ]
                    + ([f"crash log: {line[:200]}"] if key else []),
                    data={
                        "configmap": cm,
                        "namespace": snap.namespace,
                        "deployments": [c["deployment"]],
                        "deployment": c["deployment"],
                        "changed_at": c["changed_at"],
                        "key": key,
                        "value": value,
                    },
                )
            )
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
