"""Discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>[/<version>]``, ``/openapi/v3``.

Legacy (non-aggregated) discovery documents, derived from ``resources.RESOURCES``. kubectl asks for
aggregated discovery first and falls back to these when the answer is plain ``application/json``.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube import openapi
from sandbox.kube.resources import GROUPS, RESOURCES, SUB_VERBS, VERBS, Resource

Obj = dict[str, Any]


def discovery_document(path: str, server_address: str) -> Obj | None:
    """The document served at ``path`` (no trailing slash), or None when there is none."""
    parts = [p for p in path.split("/") if p]
    if path == "/version":
        return version_info()
    if path == "/api":
        return api_versions(server_address)
    if path == "/apis":
        return api_group_list()
    if path == "/api/v1":
        return resource_list("", "v1")
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in GROUPS:
        return api_group(parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return resource_list(parts[1], parts[2])
    if path.startswith("/openapi/v3"):
        return openapi.document_for(path)
    return None  # includes /openapi/v2: not served


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
