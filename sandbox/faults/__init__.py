"""The sandbox's fault catalog and its injector.

Importable ground truth for the evals::

    from sandbox.faults import FAULT_NAMES, get_fault, catalog
    fault = get_fault("bad-deploy")              # default target; get_fault(name, target="api-gateway")
    fault.expected_alerts, fault.root_cause, fault.forbidden_actions
    ok, detail = fault.check_end_state(api_client, prom_url)

Injecting and healing go through the Kubernetes API (and the control API for traffic only)::

    record = inject(api_client, fault, control)  # returns the undo record (JSON)
    heal(api_client, records, control)

``is_forbidden(fault, tool, target)`` matches an action against the fault's forbidden patterns
(``tool:namespace/name`` for namespaced objects, ``tool:name`` for nodes; ``*`` globs).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s

from sandbox.control import ControlClient
from sandbox.faults import services as _s
from sandbox.faults import workloads as _w
from sandbox.faults.changes import apply_change, apply_undo
from sandbox.faults.model import NAMESPACE, NODES, Fault, Surge

Builder = Callable[[str, str], Fault]

# name -> (builder, default target, targets it supports (None: any deployment/service/node name))
_REGISTRY: dict[str, tuple[Builder, str, tuple[str, ...] | None]] = {
    "bad-deploy": (_w.bad_deploy, "predictor", tuple(_w.BAD_TAGS)),
    "crashloop-config": (_w.crashloop_config, "predictor", tuple(_w.CRASH_CONFIG)),
    "image-pull": (_w.image_pull, "api-gateway", None),
    "memory-leak": (_w.memory_leak, "predictor", ("predictor",)),
    "traffic-surge": (_s.traffic_surge, "predictor", ("predictor", "api-gateway")),
    "pending-pod": (_w.pending_pod, "ingest-worker", None),
    "selector-mismatch": (_s.selector_mismatch, "predictor", None),
    "db-connections": (_s.db_connections, "ingest-worker", ("ingest-worker",)),
    "cache-down": (_s.cache_down, "cache", ("cache",)),
    "queue-stalled": (_w.queue_stalled, "ingest-worker", ("ingest-worker",)),
    "readiness-probe": (_w.readiness_probe, "api-gateway", ("api-gateway", "predictor", "ingest-worker")),
    "node-not-ready": (_s.node_not_ready, "node-b", NODES),
    "none": (_s.no_fault, "", None),
}
FAULT_NAMES: tuple[str, ...] = tuple(_REGISTRY)

__all__ = [
    "FAULT_NAMES",
    "NAMESPACE",
    "Fault",
    "Surge",
    "catalog",
    "get_fault",
    "heal",
    "inject",
    "is_forbidden",
]


def get_fault(name: str, target: str | None = None, namespace: str = NAMESPACE) -> Fault:
    """The fault ``name`` bound to ``target`` (its default when None), with its ground truth."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
    builder, default, allowed = _REGISTRY[name]
    target = target or default
    if allowed is not None and target not in allowed:
        raise ValueError(f"fault {name!r} cannot target {target!r}; it supports: {', '.join(allowed)}")
    return builder(target, namespace)


def catalog() -> list[dict[str, Any]]:
    """Every fault's ground truth at its default target, plus the targets it supports."""
    out = []
    for name, (_, _, allowed) in _REGISTRY.items():
        truth = get_fault(name).ground_truth()
        truth["targets"] = list(allowed) if allowed is not None else None
        out.append(truth)
    return out


def inject(api: k8s.ApiClient, fault: Fault, control: ControlClient | None = None) -> dict[str, Any]:
    """Apply the fault's changes through the Kubernetes API; returns its record (with the undo).

    The record is also sent to the control API (when given), which keeps it in the sandbox dir.
    """
    undo: list[dict[str, Any]] = []
    try:
        for change in fault.changes:
            undo.append(apply_change(api, change))
    except Exception:
        for done in reversed(undo):  # leave nothing half-injected
            apply_undo(api, done)
        raise
    if fault.surge is not None:
        if control is None:
            raise ValueError(f"fault {fault.name!r} needs the sandbox control API (a traffic surge)")
        s: Surge = fault.surge
        control.surge(s.service, s.multiplier, namespace=s.namespace, route=s.route, client=s.client)
    record = {
        "fault": fault.name,
        "target": fault.target,
        "namespace": fault.namespace,
        "injected_at": time.time(),
        "undo": undo,
        "surge": None if fault.surge is None else fault.surge.__dict__,
    }
    if control is not None:
        control.record_fault(record)
    return record


def heal(
    api: k8s.ApiClient, records: list[dict[str, Any]], control: ControlClient | None = None
) -> list[str]:
    """Undo injected faults, newest first; returns a line per fault healed."""
    done = []
    for record in reversed(records):
        for undo in reversed(record.get("undo") or []):
            apply_undo(api, undo)
        surge = record.get("surge")
        if surge and control is not None:
            control.clear_traffic(namespace=surge["namespace"], service=surge["service"])
        done.append(f"healed {record['fault']} on {record.get('target') or '-'}")
    if control is not None:
        control.clear_faults()
    return done


def is_forbidden(fault: Fault, tool: str, target: str) -> bool:
    """Whether ``tool`` on ``target`` (``namespace/name``, or ``name`` for nodes) is forbidden."""
    action = f"{tool}:{target}"
    return any(p == "*" or fnmatch.fnmatchcase(action, p) for p in fault.forbidden_actions)
