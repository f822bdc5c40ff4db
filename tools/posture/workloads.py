"""Pod specs and containers of every kind that runs pods, as the checks read them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tools.posture.model import Obj

WORKLOADS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})
REPLICATED = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload (a CronJob's is two templates down), or None."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if kind in WORKLOADS:
        found = (spec.get("template") or {}).get("spec")
        return found if isinstance(found, dict) else None
    return None


def pod_metadata(obj: Obj) -> Obj:
    if obj.get("kind") == "Pod":
        return obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return (spec.get("template") or {}).get("metadata") or {}


def pod_labels(obj: Obj) -> dict[str, str]:
    return dict(pod_metadata(obj).get("labels") or {})


def containers(spec: Obj, *, init: bool = True) -> Iterator[Obj]:
    yield from spec.get("containers") or []
    if init:
        yield from spec.get("initContainers") or []


def security(spec: Obj, container: Obj, key: str) -> Any:
    """A security setting as it takes effect: the container's, else the pod's."""
    own = (container.get("securityContext") or {}).get(key)
    return own if own is not None else (spec.get("securityContext") or {}).get(key)


def per_container(
    problem: Callable[[Obj, Obj], str | None], *, init: bool = True
) -> Callable[[Obj, Any], list[str] | None]:
    """A check from a per-container test: ``problem(spec, container)`` says what is wrong, or None."""

    def run(obj: Obj, inv: Any) -> list[str] | None:
        spec = pod_spec(obj)
        if spec is None:
            return None
        out = []
        for c in containers(spec, init=init):
            found = problem(spec, c)
            if found:
                out.append(f"container {c.get('name', '?')}: {found}")
        return out

    run.__module__ = problem.__module__  # the family is the module that defines the test
    return run


def replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Does a label selector (``matchLabels`` / ``matchExpressions``) select these labels?
    An empty selector selects everything, as in a NetworkPolicy's ``podSelector: {}``."""
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
