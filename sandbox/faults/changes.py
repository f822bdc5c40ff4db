"""Faults as ordinary Kubernetes changes, applied through the Kubernetes HTTP API, with their undo.

A :class:`Change` sets fields of one object (read it, set the fields, PUT it back — what
``kubectl edit`` does). Before writing, the original value of every field is recorded, so the undo
is data (JSON) that any process can apply later: ``sandbox heal`` from another shell included.

Paths are tuples: a ``str`` is a mapping key, an ``int`` a list index, and a :class:`Match` picks the
list item whose ``key`` equals ``value`` (``Match("name", "predictor")`` for a container,
``Match("type", "Ready")`` for a node condition).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]
MISSING = {"$missing": True}  # the recorded "value" of a field that did not exist


@dataclass(frozen=True)
class Match:
    """Selects the item of a list whose ``key`` field equals ``value``."""

    key: str
    value: str


PathElem = str | int | Match
Path = tuple[PathElem, ...]
Value = Any | Callable[[Any], Any]  # a value, or a function of the current value


@dataclass(frozen=True)
class Change:
    """Set ``fields`` (path → value, or path → function of the current value) on one object.

    ``resource`` is one of :data:`RESOURCES` (``deployments``, ``configmaps``, ``services``,
    ``secrets``, ``nodes``, ``nodes/status``, ``horizontalpodautoscalers``); ``namespace`` is ""
    for nodes.
    """

    resource: str
    namespace: str
    name: str
    fields: tuple[tuple[Path, Value], ...]


# --- paths ------------------------------------------------------------------------------------


def _find(items: list[Any], elem: int | Match) -> int | None:
    if isinstance(elem, int):
        return elem if 0 <= elem < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get(elem.key) == elem.value:
            return i
    return None


def get_path(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj``, or :data:`MISSING`."""
    cur = obj
    for elem in path:
        if isinstance(elem, str):
            if not isinstance(cur, dict) or elem not in cur:
                return MISSING
            cur = cur[elem]
        else:
            if not isinstance(cur, list):
                return MISSING
            idx = _find(cur, elem)
            if idx is None:
                return MISSING
            cur = cur[idx]
    return copy.deepcopy(cur)


def set_path(obj: Obj, path: Path, value: Any) -> None:
    """Set ``path`` in ``obj`` to ``value`` (MISSING deletes it); missing mappings are created."""
    cur: Any = obj
    for i, elem in enumerate(path):
        last = i == len(path) - 1
        if isinstance(elem, str):
            if last:
                if value is MISSING or value == MISSING:
                    cur.pop(elem, None)
                else:
                    cur[elem] = value
                return
            if not isinstance(cur.get(elem), dict | list):
                cur[elem] = {}
            cur = cur[elem]
            continue
        idx = _find(cur, elem)
        if idx is None:
            if isinstance(elem, int):
                raise ValueError(f"list index {elem} out of range at {path_text(path[: i + 1])}")
            cur.append({elem.key: elem.value})
            idx = len(cur) - 1
        if last:
            if value is MISSING or value == MISSING:
                cur.pop(idx)
            else:
                cur[idx] = value
            return
        cur = cur[idx]


def path_text(path: Path) -> str:
    """A readable form of a path, e.g. ``spec.template.spec.containers[name=predictor].image``."""
    out = ""
    for elem in path:
        if isinstance(elem, str):
            out += f".{elem}" if out else elem
        elif isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += f"[{elem.key}={elem.value}]"
    return out


def encode_path(path: Path) -> list[Any]:
    """JSON form of a path (Match → ``{"key": .., "value": ..}``)."""
    return [{"key": e.key, "value": e.value} if isinstance(e, Match) else e for e in path]


def decode_path(items: list[Any]) -> Path:
    """Inverse of :func:`encode_path`."""
    return tuple(Match(e["key"], e["value"]) if isinstance(e, dict) else e for e in items)


# --- the API ----------------------------------------------------------------------------------

RESOURCES = (
    "deployments",
    "configmaps",
    "services",
    "secrets",
    "nodes",
    "nodes/status",
    "horizontalpodautoscalers",
)


def read_object(api: k8s.ApiClient, resource: str, namespace: str, name: str) -> Obj:
    """Read one object through the Kubernetes API as a plain dict (camelCase, as served)."""
    core, apps, hpa = k8s.CoreV1Api(api), k8s.AppsV1Api(api), k8s.AutoscalingV2Api(api)
    readers: dict[str, Callable[[], Any]] = {
        "deployments": lambda: apps.read_namespaced_deployment(name, namespace),
        "configmaps": lambda: core.read_namespaced_config_map(name, namespace),
        "services": lambda: core.read_namespaced_service(name, namespace),
        "secrets": lambda: core.read_namespaced_secret(name, namespace),
        "nodes": lambda: core.read_node(name),
        "nodes/status": lambda: core.read_node_status(name),
        "horizontalpodautoscalers": lambda: hpa.read_namespaced_horizontal_pod_autoscaler(name, namespace),
    }
    if resource not in readers:
        raise ValueError(f"faults cannot change {resource!r}; supported: {', '.join(RESOURCES)}")
    result: Obj = api.sanitize_for_serialization(readers[resource]())
    return result


def replace_object(api: k8s.ApiClient, resource: str, obj: Obj) -> None:
    """PUT ``obj`` back (optimistic concurrency: a stale resourceVersion gets a 409)."""
    core, apps, hpa = k8s.CoreV1Api(api), k8s.AppsV1Api(api), k8s.AutoscalingV2Api(api)
    name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace", "")
    writers: dict[str, Callable[[], Any]] = {
        "deployments": lambda: apps.replace_namespaced_deployment(name, namespace, obj),
        "configmaps": lambda: core.replace_namespaced_config_map(name, namespace, obj),
        "services": lambda: core.replace_namespaced_service(name, namespace, obj),
        "secrets": lambda: core.replace_namespaced_secret(name, namespace, obj),
        "nodes": lambda: core.replace_node(name, obj),
        "nodes/status": lambda: core.replace_node_status(name, obj),
        "horizontalpodautoscalers": lambda: hpa.replace_namespaced_horizontal_pod_autoscaler(
            name, namespace, obj
        ),
    }
    writers[resource]()


def set_fields(
    api: k8s.ApiClient, resource: str, namespace: str, name: str, fields: list[tuple[Path, Value]]
) -> list[tuple[Path, Any]]:
    """Set ``fields`` on one object; returns the original value of each field (for the undo).

    Retries on 409 Conflict (a controller wrote the object in between), like ``kubectl edit``.
    """
    for attempt in range(5):
        obj = read_object(api, resource, namespace, name)
        before = [(path, get_path(obj, path)) for path, _ in fields]
        for path, value in fields:
            current = get_path(obj, path)
            set_path(obj, path, value(current) if callable(value) else copy.deepcopy(value))
        try:
            replace_object(api, resource, obj)
            return before
        except ApiException as exc:
            if exc.status != 409 or attempt == 4:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def apply_change(api: k8s.ApiClient, change: Change) -> Obj:
    """Apply one change; returns its undo record (JSON-ready)."""
    before = set_fields(api, change.resource, change.namespace, change.name, list(change.fields))
    return {
        "resource": change.resource,
        "namespace": change.namespace,
        "name": change.name,
        "restore": [{"path": encode_path(p), "value": v} for p, v in before],
        "changed": [path_text(p) for p, _ in change.fields],
    }


def apply_undo(api: k8s.ApiClient, undo: Obj) -> None:
    """Put back the fields an :func:`apply_change` recorded (a missing object is left alone)."""
    fields = [(decode_path(item["path"]), item["value"]) for item in undo["restore"]]
    try:
        set_fields(api, undo["resource"], undo["namespace"], undo["name"], fields)
    except ApiException as exc:
        if exc.status != 404:
            raise
