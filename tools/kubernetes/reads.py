"""Read tools: list, get and events. Compact tables and trimmed objects, never raw JSON dumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import expected_errors
from tools.kubernetes.client import Kube, Obj, resource_for
from tools.kubernetes.common import Context, Kind
from tools.kubernetes.shape import (
    dedupe_events,
    event_time,
    object_table,
    parse_time,
    secret_summary,
    to_yaml,
    trim,
)

MAX_ROWS = 60


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def k8s_list(
    deps: ToolDeps,
    kind: Kind,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    context: Context = None,
) -> ToolResult:
    """List objects as a compact table (status, restarts, images).
    Example: k8s_list(kind="pod", namespace="ns", label_selector="app=api")"""
    kube = Kube(deps, context)
    res = resource_for(kind)
    items = kube.list(
        kind,
        namespace if res.namespaced else None,
        label_selector=label_selector,
        field_selector=field_selector,
    )
    where = (
        f"in {namespace}"
        if res.namespaced and namespace
        else ("(cluster)" if not res.namespaced else "in all namespaces")
    )
    if not items:
        return ToolResult.no_data(
            f"no {res.plural} {where}" + (f" matching {label_selector}" if label_selector else "")
        )
    if res.kind == "Event":
        items = dedupe_events(items)
    shown = items[:MAX_ROWS]
    head = f"{len(items)} {res.plural} {where}" + (
        f" (showing {len(shown)})" if len(shown) < len(items) else ""
    )
    text = f"{head}\n{object_table(res.kind, shown)}"
    data = [summary(o) for o in items]
    return shaped(deps, "k8s_list", text, data, raw=data)


def summary(o: Obj) -> dict[str, object]:
    """Identity and labels of an object, for code (no spec, no values)."""
    meta = o.get("metadata", {})
    return {
        "kind": o.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": meta.get("labels") or {},
    }


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def k8s_get(
    deps: ToolDeps, kind: Kind, name: str, namespace: str | None = None, context: Context = None
) -> ToolResult:
    """One object as trimmed YAML (secrets: keys only).
    Example: k8s_get(kind="deployment", name="api", namespace="ns")"""
    kube = Kube(deps, context)
    res = resource_for(kind)
    obj = kube.get(kind, name, _ns(res.namespaced, namespace))
    obj.setdefault("kind", res.kind)
    shown: Obj = secret_summary(obj) if res.kind == "Secret" else trim(obj)
    return shaped(deps, f"k8s_get-{name}", to_yaml(shown), shown)


def _ns(namespaced: bool, namespace: str | None) -> str | None:
    return (namespace or "default") if namespaced else None


def recent_events(
    kube: Kube,
    namespace: str | None,
    *,
    name: str | None = None,
    kind: str | None = None,
    minutes: int = 60,
    warnings_only: bool = False,
) -> list[Obj]:
    """Events in a window, filtered by involved object, deduplicated, newest first."""
    cutoff = datetime.now(UTC) - timedelta(minutes=minutes)
    events = kube.list("event", namespace)
    kept = []
    for ev in events:
        inv = ev.get("involvedObject", {})
        when = parse_time(event_time(ev))
        if when is not None and when < cutoff:
            continue
        if warnings_only and ev.get("type") != "Warning":
            continue
        if name and not _involves(inv.get("name", ""), name):
            continue
        if kind and str(inv.get("kind", "")).lower() != resource_for(kind).kind.lower():
            continue
        kept.append(ev)
    return dedupe_events(kept)


def _involves(obj_name: str, wanted: str) -> bool:
    """An event about ``wanted`` or about its pods/replica sets (same name prefix)."""
    return obj_name == wanted or obj_name.startswith(wanted + "-")


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def k8s_events(
    deps: ToolDeps,
    namespace: str | None = None,
    name: str | None = None,  # the involved object; also matches its pods and replica sets
    kind: Kind | None = None,
    minutes: int = 60,
    warnings_only: bool = False,
    context: Context = None,
) -> ToolResult:
    """Recent events, newest first, repeats counted.
    Example: k8s_events(namespace="ns", name="api", warnings_only=True)"""
    kube = Kube(deps, context)
    events = recent_events(
        kube, namespace, name=name, kind=kind, minutes=minutes, warnings_only=warnings_only
    )
    scope = f"{namespace or 'all namespaces'}{', ' + name if name else ''}"
    if not events:
        return ToolResult.no_data(
            f"no {'warning ' if warnings_only else ''}events in the last {minutes}m ({scope})"
        )
    shown = events[:MAX_ROWS]
    text = f"{len(events)} distinct events in the last {minutes}m ({scope})\n{object_table('Event', shown)}"
    data = [
        {
            "type": e.get("type"),
            "reason": e.get("reason"),
            "object": f"{e.get('involvedObject', {}).get('kind')}/{e.get('involvedObject', {}).get('name')}",
            "count": e.get("count"),
            "message": e.get("message"),
            "last": e.get("lastTimestamp"),
        }
        for e in events
    ]
    return shaped(deps, "k8s_events", text, data)
