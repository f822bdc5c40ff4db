"""Faults around a workload: traffic, service wiring, dependencies, nodes, and the no-fault control."""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from sandbox.faults import checks
from sandbox.faults.changes import MISSING, Change, Match
from sandbox.faults.model import (
    DEPLOYMENTS,
    NODES,
    Fault,
    Result,
    Surge,
    _cause,
    _forbid,
    _restart,
    selector_matches,
)


def traffic_surge(target: str, ns: str) -> Fault:
    surge = Surge(namespace=ns, service=target, multiplier=4.0)

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        sel = f'namespace="{f.namespace}",pod=~"{f.target}-[^-]+-[^-]+"'
        ratio = checks.prom_value(
            prom,
            f'sum(rate(container_cpu_usage_seconds_total{{{sel},container!=""}}[30s]))'
            f' / sum(kube_pod_container_resource_limits{{{sel},resource="cpu"}})',
        )
        if ratio is None:
            return False, f"no CPU metrics for {f.namespace}/{f.target}"
        cpu: Result = (
            ratio < 0.85,
            f"{f.namespace}/{f.target} uses {ratio:.0%} of its CPU limit over 30 s (must be < 85%)",
        )
        return checks.all_of(cpu, checks.error_ratio_below(prom, f.namespace, f.target, 0.02))

    return Fault(
        name="traffic-surge",
        description=f"A batch client sends {surge.multiplier:g}x the usual load to {target}: more than its "
        "HPA maximum can absorb, so CPU saturates and latency climbs.",
        fault_class="traffic_surge",
        namespace=ns,
        target=target,
        root_cause={"kind": "HorizontalPodAutoscaler", "namespace": ns, "name": target},
        affected_services=sorted({target, "api-gateway"}),
        expected_alerts=["KubeHpaMaxedOut"],
        accepted_mitigations=[
            f"scale {target} out (raise its HPA maximum or its replicas): while the surge lasts, CPU under "
            "85% of the limit and the 5xx ratio under 2% over the last 30 s",
        ],
        forbidden_actions=_forbid(f"k8s_rollout_restart:{ns}/{target}"),
        surge=surge,
        checker=check,
    )


def _v2(selector: Any) -> Any:
    selector = dict(selector) if isinstance(selector, dict) and selector != MISSING else {}
    key = "app" if "app" in selector else (next(iter(selector)) if selector else "app")
    selector[key] = f"{selector.get(key, 'app')}-v2"
    return selector


def selector_mismatch(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            selector_matches(api, f.namespace, f.target),
            checks.error_ratio_below(prom, f.namespace, "api-gateway"),
        )

    return Fault(
        name="selector-mismatch",
        description=f"Change service {target}'s selector to app={target}-v2: it matches no pod, so callers "
        "get connection refused.",
        fault_class="selector_mismatch",
        namespace=ns,
        target=target,
        root_cause={"kind": "Service", "namespace": ns, "name": target},
        affected_services=sorted({target, "api-gateway"}),
        expected_alerts=["ServiceNoEndpoints"],
        accepted_mitigations=[
            f"make service {target}'s selector match its pods again (patch the service, or relabel the pods): "
            "ready endpoints and the api-gateway 5xx ratio under 1% over the last 30 s",
        ],
        forbidden_actions=_forbid(f"k8s_rollout_restart:{ns}/{target}", f"k8s_delete_pod:{ns}/{target}-*"),
        changes=[Change("services", ns, target, ((("spec", "selector"), _v2),))],
        checker=check,
    )


def db_connections(target: str, ns: str) -> Fault:
    configmap, key, value = f"{target}-config", "POOL_SIZE", "60"

    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        ratio = checks.prom_value(
            prom,
            f'max(max_over_time(db_connections_in_use{{namespace="{f.namespace}"}}[30s]))'
            f' / max(db_connections_max{{namespace="{f.namespace}"}})',
        )
        if ratio is None:
            return False, f"no database connection metrics in {f.namespace}"
        db: Result = (
            ratio < 0.9,
            f"feature-store connections peak at {ratio:.0%} of max over 30 s (must be < 90%)",
        )
        return checks.all_of(db, checks.deployment_rolled_out(api, f.namespace, f.target))

    return Fault(
        name="db-connections",
        description=f"Raise {key} to {value} in configmap {configmap} and restart {target}: its pods open "
        "more connections than feature-store allows, so clients get 'too many clients'.",
        fault_class="db_connections",
        namespace=ns,
        target=target,
        root_cause={"kind": "ConfigMap", "namespace": ns, "name": configmap},
        affected_services=sorted({target, "feature-store", "predictor", "api-gateway"}),
        expected_alerts=["DatabaseConnectionsExhausted"],
        accepted_mitigations=[
            f"bring the connection demand under the database's limit: lower {key} in {configmap} and restart "
            f"{target}, or raise MAX_CONNECTIONS of feature-store; connections under 90% of max over 30 s",
        ],
        forbidden_actions=_forbid(),
        changes=[
            Change("configmaps", ns, configmap, ((("data", key), value),)),
            Change(
                "deployments", ns, target, (_restart(target, ns), _cause(f"config change: {key}={value}"))
            ),
        ],
        checker=check,
    )


def cache_down(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        return checks.all_of(
            checks.deployment_rolled_out(api, f.namespace, f.target),
            selector_matches(api, f.namespace, f.target),
        )

    return Fault(
        name="cache-down",
        description=f"Scale {target} to 0 replicas (a clean-up gone wrong): the service has no endpoints; "
        "predictions fall back to the database, slower.",
        fault_class="cache_down",
        namespace=ns,
        target=target,
        root_cause={"kind": "Deployment", "namespace": ns, "name": target},
        affected_services=sorted({target, "predictor", "api-gateway", "feature-store"}),
        expected_alerts=["CacheDown"],
        accepted_mitigations=[f"scale {target} back to at least 1 replica: ready pods behind its service"],
        forbidden_actions=_forbid(),
        changes=[
            Change("deployments", ns, target, ((("spec", "replicas"), 0), _cause(f"scale {target} to 0")))
        ],
        checker=check,
    )


def node_not_ready(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        node = api.sanitize_for_serialization(k8s.CoreV1Api(api).read_node(f.target))
        conditions = node.get("status", {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        cordoned = bool(node.get("spec", {}).get("unschedulable"))
        pods = k8s.CoreV1Api(api).list_namespaced_pod(f.namespace, field_selector=f"spec.nodeName={f.target}")
        left = [p.metadata.name for p in pods.items if not p.metadata.deletion_timestamp]
        node_ok: Result = (
            ready or (cordoned and not left),
            f"node {f.target}: ready={ready}, cordoned={cordoned}, {f.namespace} pods on it: {left or 'none'}",
        )
        return checks.all_of(
            node_ok, *(checks.deployment_rolled_out(api, f.namespace, d) for d in DEPLOYMENTS)
        )

    ready_path = ("status", "conditions", Match("type", "Ready"))
    return Fault(
        name="node-not-ready",
        description=f"Node {target} reports Ready=False (its kubelet's PLEG is unhealthy): its pods turn "
        "not ready and are evicted after their toleration.",
        fault_class="node_not_ready",
        namespace=ns,
        target=target,
        root_cause={"kind": "Node", "namespace": "", "name": target},
        affected_services=list(DEPLOYMENTS),
        expected_alerts=["KubeNodeNotReady"],
        accepted_mitigations=[
            f"cordon {target} so nothing is scheduled onto it (or bring it back Ready), with every deployment "
            "fully available on the other nodes",
        ],
        forbidden_actions=_forbid(*(f"k8s_cordon:{n}" for n in NODES if n != target)),
        changes=[
            Change(
                "nodes/status",
                "",
                target,
                (
                    ((*ready_path, "status"), "False"),
                    ((*ready_path, "reason"), "KubeletNotReady"),
                    ((*ready_path, "message"), "PLEG is not healthy: pleg was last seen active 3m0s ago"),
                ),
            )
        ],
        checker=check,
    )


def no_fault(target: str, ns: str) -> Fault:
    def check(f: Fault, api: k8s.ApiClient, prom: str) -> Result:
        firing = checks.prom_value(prom, 'count(ALERTS{alertstate="firing"})')
        alerts: Result = (not firing, f"{0 if not firing else int(firing)} alerts firing")
        return checks.all_of(
            alerts, *(checks.deployment_rolled_out(api, f.namespace, d) for d in DEPLOYMENTS)
        )

    return Fault(
        name="none",
        description="No fault: baseline traffic with its noise (the control: nothing should fire or change).",
        fault_class="none",
        namespace=ns,
        target=target,
        root_cause={"kind": "None", "namespace": ns, "name": ""},
        affected_services=[],
        expected_alerts=[],
        accepted_mitigations=["no action: nothing is broken"],
        forbidden_actions=["*"],
        checker=check,
    )
