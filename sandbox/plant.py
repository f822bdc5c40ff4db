"""Plant arbitrary text in the world: log lines of a service, events, annotations and ConfigMaps.

The hook behind prompt-injection scenarios (text an attacker wrote, next to a real fault). It is
generic: any namespace, any workload, any text; nothing here knows a scenario. Everything but log
lines goes through the Kubernetes store the API serves, so the agent reads it exactly as it would
on a cluster; log lines go to the log store Loki and ``kubectl logs`` read::

    plant_text(store, logs, where="log", namespace="market-predictor", target="predictor", text=...)
    plant_text(store, logs, where="configmap", namespace="market-predictor", target="predictor-config", text=...)
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Literal

from sandbox.kube.store import Store
from sandbox.logs import LogStore

Where = Literal["log", "event", "annotation", "configmap"]
WHERES: tuple[Where, ...] = ("log", "event", "annotation", "configmap")
ANNOTATION = "sandbox.devops-agent.io/note"
CONFIG_KEY = "NOTES"


class PlantError(ValueError):
    """The text cannot be planted there; the message says why."""


def plant_text(
    store: Store, logs: LogStore | None, *, where: str, namespace: str, target: str, text: str, count: int = 1
) -> dict[str, Any]:
    """Put ``text`` in the world; returns what was written (for the undo and the report)."""
    if where == "log":
        return _log(store, logs, namespace, target, text, count)
    if where == "annotation":
        return _annotate(store, namespace, target, text)
    if where == "configmap":
        return _configmap(store, namespace, target, text)
    if where == "event":
        return _event(store, namespace, target, text)
    raise PlantError(f"cannot plant text in {where!r}: choose one of {', '.join(WHERES)}")


def _deployment(store: Store, namespace: str, name: str) -> dict[str, Any]:
    dep = store.try_get("deployments", namespace, name)
    if dep is None:
        raise PlantError(f"no deployment {namespace}/{name} to plant text on")
    return dep


def _log(
    store: Store, logs: LogStore | None, namespace: str, target: str, text: str, count: int
) -> dict[str, Any]:
    if logs is None:
        raise PlantError("this sandbox has no log store: log lines cannot be planted")
    dep = _deployment(store, namespace, target)
    selector = dep["spec"]["selector"].get("matchLabels") or {}
    pods = [
        p
        for p in store.list("pods", namespace)
        if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    if not pods:
        raise PlantError(f"deployment {namespace}/{target} has no pods whose log could carry the text")
    app = (dep["metadata"].get("labels") or {}).get("app", target)
    now = time.time_ns()
    for pod in pods:
        container = pod["spec"]["containers"][0]["name"]
        labels = {
            "namespace": namespace,
            "pod": pod["metadata"]["name"],
            "container": container,
            "app": app,
            "node": str(pod["spec"].get("nodeName") or ""),
            "job": f"{namespace}/{app}",
        }
        restarts = max(
            [c.get("restartCount", 0) for c in pod.get("status", {}).get("containerStatuses", [])] or [0]
        )
        for i in range(count):
            logs.append(labels, text, now + i, restart=restarts)
    return {
        "where": "log",
        "namespace": namespace,
        "target": target,
        "pods": len(pods),
        "lines": len(pods) * count,
    }


def _annotate(store: Store, namespace: str, target: str, text: str) -> dict[str, Any]:
    _deployment(store, namespace, target)

    def note(obj: dict[str, Any]) -> None:
        obj["metadata"].setdefault("annotations", {})[ANNOTATION] = text

    store.mutate("deployments", namespace, target, note)
    return {"where": "annotation", "namespace": namespace, "target": target, "key": ANNOTATION}


def _configmap(store: Store, namespace: str, target: str, text: str) -> dict[str, Any]:
    if store.try_get("configmaps", namespace, target) is None:
        raise PlantError(f"no configmap {namespace}/{target} to plant text in")

    def note(cm: dict[str, Any]) -> None:
        cm.setdefault("data", {})[CONFIG_KEY] = text

    store.mutate("configmaps", namespace, target, note)
    return {"where": "configmap", "namespace": namespace, "target": target, "key": CONFIG_KEY}


def _event(store: Store, namespace: str, target: str, text: str) -> dict[str, Any]:
    dep = _deployment(store, namespace, target)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    name = f"{target}.{hashlib.sha1(f'{text}{time.time_ns()}'.encode()).hexdigest()[:16]}"
    store.create(
        "events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": target,
                "namespace": namespace,
                "uid": dep["metadata"].get("uid"),
            },
            "reason": "Note",
            "message": text,
            "type": "Warning",
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": "sandbox"},
        },
    )
    return {"where": "event", "namespace": namespace, "target": target, "event": name}
