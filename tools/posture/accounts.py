"""Service accounts: the API token every pod gets unless it says no, and the shared default account."""

from __future__ import annotations

from tools.posture.model import Obj
from tools.posture.registry import check
from tools.posture.workloads import WORKLOADS, pod_spec


def _automount(obj: Obj, inv: object) -> list[str] | None:
    spec = pod_spec(obj)
    if spec is None:
        return None
    if spec.get("automountServiceAccountToken") is False:
        return []
    return ["spec.automountServiceAccountToken is not false: the pod gets an API token it may not need"]


check(
    "sa-automount-token",
    severity="medium",
    title="Pods should not mount a service account token they do not use",
    why="A mounted token is a credential for the API server in every container's filesystem: whoever "
    "gets a shell gets the account's rights.",
    fix="Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls the API.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_38",),
)(_automount)


def _default_sa(obj: Obj, inv: object) -> list[str] | None:
    spec = pod_spec(obj)
    if spec is None:
        return None
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    return ["runs as the namespace's default service account"] if name == "default" else []


check(
    "sa-default-used",
    severity="low",
    title="Workloads should run under their own service account",
    why="Every pod without one shares the default account: a right granted to one is granted to all.",
    fix="Create a ServiceAccount per workload and set spec.serviceAccountName.",
    kinds=WORKLOADS,
)(_default_sa)


def _default_sa_object(obj: Obj, inv: object) -> list[str] | None:
    if (obj.get("metadata") or {}).get("name") != "default":
        return None
    if obj.get("automountServiceAccountToken") is False:
        return []
    return ["the default ServiceAccount does not set automountServiceAccountToken: false"]


check(
    "sa-default-automount",
    severity="low",
    title="The default service account should not automount its token",
    why="Pods that forget serviceAccountName run as default; with automount off they at least get no token.",
    fix="Set automountServiceAccountToken: false on each namespace's default ServiceAccount.",
    kinds=frozenset({"ServiceAccount"}),
    checkov=("CKV_K8S_41",),
)(_default_sa_object)
