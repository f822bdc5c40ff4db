"""A minimal OpenAPI v3 description, just enough for kubectl's server-side field validation.

kubectl (``create -f``, ``apply``, ``replace``) validates manifests against the server's OpenAPI
schema unless the server says it validates fields itself: it looks, in ``/openapi/v3``, for a PATCH
operation of the kind that declares the ``fieldValidation`` query parameter. This module publishes
exactly that (and ``dryRun``), with no schemas, so kubectl leaves validation to the server and falls
back to its built-in types for strategic merge patches. ``/openapi/v2`` stays 404.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.kube.resources import RESOURCES

Obj = dict[str, Any]

_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def group_versions() -> list[tuple[str, str]]:
    return sorted({(r.group, r.version) for r in RESOURCES})


def gv_document(group: str, version: str) -> Obj | None:
    """``GET /openapi/v3/<api/v1|apis/group/version>``: PATCH operations per kind, no schemas."""
    paths: Obj = {}
    for res in RESOURCES:
        if (res.group, res.version) != (group, version):
            continue
        prefix = f"/{_gv_path(group, version)}" + ("/namespaces/{namespace}" if res.namespaced else "")
        gvk = {"group": group, "version": version, "kind": res.kind}
        operation = {
            "operationId": f"patch{res.kind}",
            "parameters": _PARAMS,
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK"}},
        }
        paths[f"{prefix}/{res.plural}/{{name}}"] = {"patch": operation}
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (sandbox)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def index() -> Obj:
    """``GET /openapi/v3``: where each group version's document lives (with a content hash)."""
    paths = {}
    for group, version in group_versions():
        digest = hashlib.sha256(json.dumps(gv_document(group, version), sort_keys=True).encode()).hexdigest()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest[:32].upper()}"}
    return {"paths": paths}


def document_for(path: str) -> Obj | None:
    """The OpenAPI v3 document served at ``path`` (``/openapi/v3`` or below), or None."""
    rest = path.removeprefix("/openapi/v3").strip("/")
    if not rest:
        return index()
    parts = rest.split("/")
    if parts[0] == "api" and len(parts) == 2:
        return gv_document("", parts[1])
    if parts[0] == "apis" and len(parts) == 3:
        return gv_document(parts[1], parts[2])
    return None
