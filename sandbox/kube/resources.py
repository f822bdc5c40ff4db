"""The API resources the stand-in serves, and the discovery documents that describe them.

One ``Resource`` per plural API resource: its group/version, kind, scope, short names and the
subresources it has. Discovery (``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>/<version>``) is
derived from this table, so what is advertised and what is served cannot drift apart.
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
)  # fmt: skip

GROUPS: dict[str, list[str]] = {"apps": ["v1"], "autoscaling": ["v2"]}


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


# --- discovery documents ------------------------------------------------------------------------
def api_versions(server_address: str) -> Obj:
    """``GET /api``."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> Obj:
    """``GET /apis``: every non-core group with its versions (the first is preferred)."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(g) for g in GROUPS]}


def api_group(group: str) -> Obj:
    """``GET /apis/<group>``."""
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUPS[group]]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def resource_list(group: str, version: str) -> Obj | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>``; None when that group/version is not served."""
    served = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    if not served:
        return None
    entries: list[Obj] = []
    for res in served:
        entries.append(_resource_entry(res))
        entries.extend(_subresource_entry(res, sub) for sub in res.subresources)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


def _resource_entry(res: Resource) -> Obj:
    entry: Obj = {
        "name": res.plural,
        "singularName": res.singular,
        "namespaced": res.namespaced,
        "kind": res.kind,
        "verbs": list(VERBS),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    return entry


def _subresource_entry(res: Resource, sub: str) -> Obj:
    entry: Obj = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced}
    if sub == "scale":
        entry.update(group="autoscaling", version="v1", kind="Scale", verbs=SUB_VERBS)
    elif sub == "log":
        entry.update(kind="Pod", verbs=["get"])
    else:
        entry.update(kind=res.kind, verbs=SUB_VERBS)
    return entry


def version_info() -> Obj:
    """``GET /version``: what kubectl prints as the server version."""
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
