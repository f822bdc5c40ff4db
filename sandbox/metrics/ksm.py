"""kube-state-metrics from the object store: every scrape reflects the store as it is now."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sandbox.kube.store import Store
from sandbox.metrics.quantity import parse_quantity

Obj = dict[str, Any]
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
POD = ["namespace", "pod"]
CONTAINER = ["namespace", "pod", "container"]
DEPLOY = ["namespace", "deployment"]
HPA = ["namespace", "horizontalpodautoscaler"]


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class KubeStateCollector(Collector):
    """The kube-state-metrics series named in docs/CONTRACTS.md, derived from the store on scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        pods = self.store.list("pods")
        yield from self._pods(pods)
        yield from self._pod_identity(pods)
        yield from self._deployments(self.store.list("deployments"))
        yield from self._hpas(self.store.list("horizontalpodautoscalers"))
        yield from self._nodes(self.store.list("nodes"))
        yield from self._endpoints(self.store.list("endpoints"))

    def _pods(self, pods: list[Obj]) -> Iterator[Metric]:
        info = _gauge(
            "kube_pod_info", "Information about pod.", [*POD, "node", "created_by_kind", "created_by_name"]
        )
        phase = _gauge("kube_pod_status_phase", "The pods current phase.", [*POD, "phase"])
        ready = _gauge("kube_pod_status_ready", "Describes whether the pod is ready.", [*POD, "condition"])
        restarts = CounterMetricFamily(
            "kube_pod_container_status_restarts", "Container restarts.", labels=CONTAINER
        )
        waiting = _gauge(
            "kube_pod_container_status_waiting_reason",
            "Why the container is waiting.",
            [*CONTAINER, "reason"],
        )
        terminated = _gauge(
            "kube_pod_container_status_last_terminated_reason",
            "Last reason the container was in terminated state.",
            [*CONTAINER, "reason"],
        )
        cready = _gauge("kube_pod_container_status_ready", "Whether the container is ready.", CONTAINER)
        limits = _gauge(
            "kube_pod_container_resource_limits", "Resource limits.", [*CONTAINER, "resource", "unit"]
        )
        requests = _gauge(
            "kube_pod_container_resource_requests", "Resource requests.", [*CONTAINER, "resource", "unit"]
        )
        for pod in pods:
            meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
            key = [meta.get("namespace", ""), meta["name"]]
            owner = (meta.get("ownerReferences") or [{}])[0]
            info.add_metric([*key, spec.get("nodeName", ""), owner.get("kind", ""), owner.get("name", "")], 1)
            current = status.get("phase", "Pending")
            for p in PHASES:
                phase.add_metric([*key, p], 1.0 if p == current else 0.0)
            cond: Obj = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
            value = str(cond.get("status", "False")).lower()
            for c in ("true", "false", "unknown"):
                ready.add_metric([*key, c], 1.0 if c == value else 0.0)
            for cs in status.get("containerStatuses", []) or []:
                ckey = [*key, cs.get("name", "")]
                restarts.add_metric(ckey, float(cs.get("restartCount", 0)))
                cready.add_metric(ckey, 1.0 if cs.get("ready") else 0.0)
                if reason := (cs.get("state", {}).get("waiting") or {}).get("reason"):
                    waiting.add_metric([*ckey, reason], 1)
                if reason := (cs.get("lastState", {}).get("terminated") or {}).get("reason"):
                    terminated.add_metric([*ckey, reason], 1)
            for c in spec.get("containers", []):
                res = c.get("resources", {}) or {}
                _resources(limits, [*key, c.get("name", "")], res.get("limits") or {})
                _resources(requests, [*key, c.get("name", "")], res.get("requests") or {})
        yield from (info, phase, ready, restarts, waiting, terminated, cready, limits, requests)

    def _pod_identity(self, pods: list[Obj]) -> Iterator[Metric]:
        """Who owns each pod and which image each container runs (to tell versions apart)."""
        owner = _gauge(
            "kube_pod_owner", "Information about the pod's owner.", [*POD, "owner_kind", "owner_name"]
        )
        info = _gauge(
            "kube_pod_container_info", "Information about a container in a pod.", [*CONTAINER, "image"]
        )
        for pod in pods:
            meta = pod["metadata"]
            key = [meta.get("namespace", ""), meta["name"]]
            for ref in meta.get("ownerReferences") or [{"kind": "<none>", "name": "<none>"}]:
                owner.add_metric([*key, ref.get("kind", ""), ref.get("name", "")], 1)
            for c in pod.get("spec", {}).get("containers", []):
                info.add_metric([*key, c.get("name", ""), c.get("image", "")], 1)
        yield from (owner, info)

    def _deployments(self, deployments: list[Obj]) -> Iterator[Metric]:
        fields = {
            "kube_deployment_spec_replicas": ("spec", "replicas"),
            "kube_deployment_status_replicas": ("status", "replicas"),
            "kube_deployment_status_replicas_available": ("status", "availableReplicas"),
            "kube_deployment_status_replicas_ready": ("status", "readyReplicas"),
            "kube_deployment_status_replicas_updated": ("status", "updatedReplicas"),
            "kube_deployment_status_replicas_unavailable": ("status", "unavailableReplicas"),
            "kube_deployment_status_observed_generation": ("status", "observedGeneration"),
        }
        families = {name: _gauge(name, f"Deployment {path[1]}.", DEPLOY) for name, path in fields.items()}
        generation = _gauge("kube_deployment_metadata_generation", "Deployment generation.", DEPLOY)
        condition = _gauge(
            "kube_deployment_status_condition", "Deployment conditions.", [*DEPLOY, "condition", "status"]
        )
        for d in deployments:
            key = [d["metadata"].get("namespace", ""), d["metadata"]["name"]]
            for name, (part, field) in fields.items():
                default = 1 if (part, field) == ("spec", "replicas") else 0
                families[name].add_metric(key, float((d.get(part) or {}).get(field, default) or 0))
            generation.add_metric(key, float(d["metadata"].get("generation", 1)))
            for cond in (d.get("status") or {}).get("conditions") or []:
                value = str(cond.get("status", "Unknown")).lower()
                for st in ("true", "false", "unknown"):
                    condition.add_metric([*key, cond.get("type", ""), st], 1.0 if st == value else 0.0)
        yield from (*families.values(), generation, condition)

    def _hpas(self, hpas: list[Obj]) -> Iterator[Metric]:
        prefix = "kube_horizontalpodautoscaler_"
        spec_max = _gauge(prefix + "spec_max_replicas", "HPA maximum replicas.", HPA)
        spec_min = _gauge(prefix + "spec_min_replicas", "HPA minimum replicas.", HPA)
        current = _gauge(prefix + "status_current_replicas", "HPA current replicas.", HPA)
        desired = _gauge(prefix + "status_desired_replicas", "HPA desired replicas.", HPA)
        for h in hpas:
            key = [h["metadata"].get("namespace", ""), h["metadata"]["name"]]
            spec, status = h.get("spec", {}), h.get("status", {}) or {}
            spec_max.add_metric(key, float(spec.get("maxReplicas", 0)))
            spec_min.add_metric(key, float(spec.get("minReplicas", 1)))
            current.add_metric(key, float(status.get("currentReplicas", 0)))
            desired.add_metric(key, float(status.get("desiredReplicas", 0)))
        yield from (spec_max, spec_min, current, desired)

    def _nodes(self, nodes: list[Obj]) -> Iterator[Metric]:
        condition = _gauge("kube_node_status_condition", "Node condition.", ["node", "condition", "status"])
        unschedulable = _gauge("kube_node_spec_unschedulable", "Whether the node is cordoned.", ["node"])
        info = _gauge("kube_node_info", "Information about the node.", ["node"])
        for n in nodes:
            name = n["metadata"]["name"]
            info.add_metric([name], 1)
            unschedulable.add_metric([name], 1.0 if n.get("spec", {}).get("unschedulable") else 0.0)
            for cond in n.get("status", {}).get("conditions", []) or []:
                value = str(cond.get("status", "Unknown")).lower()
                for s in ("true", "false", "unknown"):
                    condition.add_metric([name, cond.get("type", ""), s], 1.0 if s == value else 0.0)
        yield from (condition, unschedulable, info)

    def _endpoints(self, endpoints: list[Obj]) -> Iterator[Metric]:
        labels = ["namespace", "endpoint"]
        available = _gauge("kube_endpoint_address_available", "Ready endpoint addresses.", labels)
        not_ready = _gauge("kube_endpoint_address_not_ready", "Not-ready endpoint addresses.", labels)
        for e in endpoints:
            key = [e["metadata"].get("namespace", ""), e["metadata"]["name"]]
            subsets = e.get("subsets") or []
            available.add_metric(key, float(sum(len(s.get("addresses") or []) for s in subsets)))
            not_ready.add_metric(key, float(sum(len(s.get("notReadyAddresses") or []) for s in subsets)))
        yield from (available, not_ready)


def _resources(family: GaugeMetricFamily, key: list[str], values: dict[str, Any]) -> None:
    for resource, raw in values.items():
        unit = "core" if resource == "cpu" else "byte"
        try:
            family.add_metric([*key, resource, unit], parse_quantity(str(raw)))
        except ValueError:
            continue
