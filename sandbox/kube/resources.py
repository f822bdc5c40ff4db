"""The API resources the stand-in serves.

One ``Resource`` per plural API resource: its group/version, kind, scope, short names and the
subresources it has. Discovery (``discovery.py``) is derived from this table, so what is advertised
and what is served cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


@dataclass(frozen=True)
class Resource:
    """One plural API resource (``pods``, ``deployments`` ...) as the API server knows it."""

    plural: str
    kind: str
    group: str  # "" = core
    version: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)
    field_selectors: tuple[str, ...] = field(default=())

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_POD_FIELDS = ("status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.podIP")
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCES: tuple[Resource, ...] = (
    Resource("pods", "Pod", "", "v1", short_names=("po",), categories=("all",),
             subresources=("status", "log"), field_selectors=_POD_FIELDS),
    Resource("services", "Service", "", "v1", short_names=("svc",), categories=("all",)),
    Resource("endpoints", "Endpoints", "", "v1", short_names=("ep",), subresources=()),
    Resource("configmaps", "ConfigMap", "", "v1", short_names=("cm",), subresources=()),
    Resource("secrets", "Secret", "", "v1", subresources=(), field_selectors=("type",)),
    Resource("events", "Event", "", "v1", short_names=("ev",), subresources=(), field_selectors=_EVENT_FIELDS),
    Resource("nodes", "Node", "", "v1", namespaced=False, short_names=("no",),
             field_selectors=("spec.unschedulable",)),
    Resource("namespaces", "Namespace", "", "v1", namespaced=False, short_names=("ns",),
             field_selectors=("status.phase",)),
    Resource("deployments", "Deployment", "apps", "v1", short_names=("deploy",), categories=("all",),
             subresources=("status", "scale")),
    Resource("replicasets", "ReplicaSet", "apps", "v1", short_names=("rs",), categories=("all",),
             subresources=("status", "scale")),
    Resource("statefulsets", "StatefulSet", "apps", "v1", short_names=("sts",), categories=("all",),
             subresources=("status", "scale")),
    Resource("daemonsets", "DaemonSet", "apps", "v1", short_names=("ds",), categories=("all",)),
    Resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v2",
             short_names=("hpa",), categories=("all",)),
    Resource("poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", short_names=("pdb",)),
    Resource("ingresses", "Ingress", "networking.k8s.io", "v1", short_names=("ing",)),
    Resource("networkpolicies", "NetworkPolicy", "networking.k8s.io", "v1", short_names=("netpol",),
             subresources=()),
    Resource("jobs", "Job", "batch", "v1", categories=("all",)),
    Resource("cronjobs", "CronJob", "batch", "v1", short_names=("cj",), categories=("all",)),
    Resource("serviceaccounts", "ServiceAccount", "", "v1", short_names=("sa",), subresources=()),
    Resource("roles", "Role", "rbac.authorization.k8s.io", "v1", subresources=()),
    Resource("rolebindings", "RoleBinding", "rbac.authorization.k8s.io", "v1", subresources=()),
    Resource("clusterroles", "ClusterRole", "rbac.authorization.k8s.io", "v1", namespaced=False,
             subresources=()),
    Resource("clusterrolebindings", "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1",
             namespaced=False, subresources=()),
)  # fmt: skip

GROUPS: dict[str, list[str]] = {
    "apps": ["v1"],
    "autoscaling": ["v2"],
    "batch": ["v1"],
    "policy": ["v1"],
    "networking.k8s.io": ["v1"],
    "rbac.authorization.k8s.io": ["v1"],
}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``/<api|apis/group>/<version>/<plural>``, or None."""
    for res in RESOURCES:
        if (res.group, res.version, res.plural) == (group, version, plural):
            return res
    return None


def by_plural(plural: str) -> Resource:
    """The resource with this plural name (the store's key); KeyError when unknown."""
    for res in RESOURCES:
        if res.plural == plural:
            return res
    raise KeyError(plural)
