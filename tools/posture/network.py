"""Across objects: a Service no NetworkPolicy guards, a replicated workload without a
PodDisruptionBudget, and objects left in the default namespace."""

from __future__ import annotations

from tools.posture.model import Inventory, Obj, namespace_of
from tools.posture.registry import check
from tools.posture.workloads import REPLICATED, WORKLOADS, pod_labels, pod_spec, replicas, selects


def _ingress_policies(inv: Inventory, namespace: str) -> list[Obj]:
    out = []
    for pol in inv.of_kind("NetworkPolicy", namespace):
        types = (pol.get("spec") or {}).get("policyTypes") or ["Ingress"]
        if "Ingress" in types:
            out.append(pol)
    return out


def _service_pods(svc: Obj, inv: Inventory) -> list[dict[str, str]]:
    """Pod labels of the workloads the Service selects (its selector itself when none is known)."""
    selector = (svc.get("spec") or {}).get("selector") or {}
    ns = namespace_of(svc)
    found = [
        pod_labels(w)
        for w in inv.objects
        if w.get("kind") in WORKLOADS
        and namespace_of(w) == ns
        and pod_spec(w) is not None
        and not _owned(w)
        and selects({"matchLabels": selector}, pod_labels(w))
    ]
    return found or [dict(selector)]


def _owned(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("ownerReferences"))


def _no_netpol(svc: Obj, inv: Inventory) -> list[str] | None:
    spec = svc.get("spec") or {}
    if not spec.get("selector") or spec.get("type") == "ExternalName":
        return None
    policies = _ingress_policies(inv, namespace_of(svc))
    bare = [
        labels
        for labels in _service_pods(svc, inv)
        if not any(selects((p.get("spec") or {}).get("podSelector"), labels) for p in policies)
    ]
    if not bare:
        return []
    shown = ",".join(f"{k}={v}" for k, v in sorted(spec["selector"].items()))
    return [
        f"no NetworkPolicy with an ingress rule selects its pods (selector {shown}): any pod in the cluster can reach them"
    ]


check(
    "network-policy-missing",
    severity="medium",
    title="Services should have a NetworkPolicy selecting their pods",
    why="Without one, every pod of every namespace can reach the Service's pods: a compromised pod "
    "anywhere reaches the database.",
    fix="Add a NetworkPolicy whose podSelector matches the pods and whose ingress names who may call them.",
    kinds=frozenset({"Service"}),
    checkov=("CKV2_K8S_6",),
)(_no_netpol)


def _min_replicas(obj: Obj, inv: Inventory) -> int:
    """Replicas, or the floor of an HPA that scales the workload."""
    count = replicas(obj)
    name = (obj.get("metadata") or {}).get("name")
    for hpa in inv.of_kind("HorizontalPodAutoscaler", namespace_of(obj)):
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if target.get("kind") == obj.get("kind") and target.get("name") == name:
            count = max(count, int((hpa.get("spec") or {}).get("minReplicas") or 1))
    return count


def _no_pdb(obj: Obj, inv: Inventory) -> list[str] | None:
    if _owned(obj):
        return None  # a ReplicaSet of a Deployment: the Deployment is checked
    count = _min_replicas(obj, inv)
    if count < 2:
        return None
    labels = pod_labels(obj)
    for pdb in inv.of_kind("PodDisruptionBudget", namespace_of(obj)):
        selector = (pdb.get("spec") or {}).get("selector")
        if selector and selects(selector, labels):
            return []
    return [f"{count} replicas and no PodDisruptionBudget: a node drain may evict them all at once"]


check(
    "pdb-missing",
    severity="medium",
    title="Replicated workloads should have a PodDisruptionBudget",
    why="Without a PDB, a node drain or a cluster upgrade may evict every replica at the same time; "
    "having several replicas then buys no availability.",
    fix="Add a PodDisruptionBudget with maxUnavailable: 1 selecting the workload's pods "
    "(devops-agent posture --fix proposes it).",
    kinds=REPLICATED,
    fix_action="k8s_set_pdb",
)(_no_pdb)


def _default_namespace(obj: Obj, inv: Inventory) -> list[str] | None:
    if _owned(obj):
        return None
    return ["lives in the default namespace"] if namespace_of(obj) == "default" else []


check(
    "namespace-default",
    severity="low",
    title="Workloads should not live in the default namespace",
    why="Everything lands in default by accident; policies, quotas and RBAC written for a namespace "
    "cannot tell those objects apart.",
    fix="Give each application its own namespace (metadata.namespace).",
    kinds=WORKLOADS | {"Service"},
    checkov=("CKV_K8S_21",),
)(_default_namespace)
