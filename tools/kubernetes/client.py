"""Thin JSON access to the Kubernetes API over the official client's ``ApiClient``.

Objects come back as plain dicts, exactly as the API serves them: shaping works on dicts, a
stand-in API and a real cluster look the same, and no model class can reject an unusual field.
Failures become :class:`~tools.errors.ToolError` subclasses with messages a human can act on.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from tools.base import ToolDeps
from tools.errors import BackendNotConfigured, BackendUnavailable, NotFound, ToolError

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    kind: str
    api: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespaced: bool = True


RESOURCES: dict[str, Resource] = {
    r.kind.lower(): r
    for r in (
        Resource("Pod", "/api/v1", "pods"),
        Resource("Deployment", "/apis/apps/v1", "deployments"),
        Resource("ReplicaSet", "/apis/apps/v1", "replicasets"),
        Resource("StatefulSet", "/apis/apps/v1", "statefulsets"),
        Resource("DaemonSet", "/apis/apps/v1", "daemonsets"),
        Resource("Service", "/api/v1", "services"),
        Resource("Endpoints", "/api/v1", "endpoints"),
        Resource("ConfigMap", "/api/v1", "configmaps"),
        Resource("Secret", "/api/v1", "secrets"),
        Resource("Event", "/api/v1", "events"),
        Resource("HorizontalPodAutoscaler", "/apis/autoscaling/v2", "horizontalpodautoscalers"),
        Resource("Node", "/api/v1", "nodes", namespaced=False),
        Resource("Namespace", "/api/v1", "namespaces", namespaced=False),
        Resource("PodDisruptionBudget", "/apis/policy/v1", "poddisruptionbudgets"),
        Resource("Ingress", "/apis/networking.k8s.io/v1", "ingresses"),
        Resource("NetworkPolicy", "/apis/networking.k8s.io/v1", "networkpolicies"),
        Resource("Job", "/apis/batch/v1", "jobs"),
        Resource("CronJob", "/apis/batch/v1", "cronjobs"),
        Resource("ServiceAccount", "/api/v1", "serviceaccounts"),
        Resource("Role", "/apis/rbac.authorization.k8s.io/v1", "roles"),
        Resource("RoleBinding", "/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
        Resource("ClusterRole", "/apis/rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
        Resource(
            "ClusterRoleBinding",
            "/apis/rbac.authorization.k8s.io/v1",
            "clusterrolebindings",
            namespaced=False,
        ),
    )
}

ALIASES: dict[str, str] = {
    "po": "pod",
    "pods": "pod",
    "deploy": "deployment",
    "deployments": "deployment",
    "rs": "replicaset",
    "replicasets": "replicaset",
    "sts": "statefulset",
    "statefulsets": "statefulset",
    "ds": "daemonset",
    "daemonsets": "daemonset",
    "svc": "service",
    "services": "service",
    "ep": "endpoints",
    "endpoint": "endpoints",
    "cm": "configmap",
    "configmaps": "configmap",
    "secrets": "secret",
    "ev": "event",
    "events": "event",
    "hpa": "horizontalpodautoscaler",
    "hpas": "horizontalpodautoscaler",
    "horizontalpodautoscalers": "horizontalpodautoscaler",
    "no": "node",
    "nodes": "node",
    "ns": "namespace",
    "namespaces": "namespace",
    "pdb": "poddisruptionbudget",
    "pdbs": "poddisruptionbudget",
    "poddisruptionbudgets": "poddisruptionbudget",
    "ing": "ingress",
    "ingresses": "ingress",
    "netpol": "networkpolicy",
    "networkpolicies": "networkpolicy",
    "jobs": "job",
    "cj": "cronjob",
    "cronjobs": "cronjob",
    "sa": "serviceaccount",
    "serviceaccounts": "serviceaccount",
    "roles": "role",
    "rolebindings": "rolebinding",
    "clusterroles": "clusterrole",
    "clusterrolebindings": "clusterrolebinding",
}


class WatchExpired(ToolError):
    """410 Gone: the resourceVersion to resume from is older than the server keeps; list again."""


def resource_for(kind: str) -> Resource:
    """The :class:`Resource` for a kind or one of kubectl's short names (case-insensitive)."""
    key = kind.strip().lower()
    key = ALIASES.get(key, key)
    if key not in RESOURCES:
        known = ", ".join(sorted(r.kind for r in RESOURCES.values()))
        raise ToolError(f"unknown kind {kind!r}; use one of: {known}")
    return RESOURCES[key]


def new_api_client(kubeconfig: Path | None, context: str | None) -> k8s.ApiClient:
    """An ``ApiClient`` for one kubeconfig context (the kubeconfig's current context when None)."""
    try:
        api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
        )
        return api
    except (ConfigException, OSError) as exc:
        if kubeconfig is None and context is None:
            try:
                cfg = k8s.Configuration()
                k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
                return k8s.ApiClient(configuration=cfg)
            except ConfigException:
                pass
        where = str(kubeconfig) if kubeconfig else "the default kubeconfig (~/.kube/config)"
        raise BackendNotConfigured(
            f"cannot load Kubernetes context {context or '(current)'} from {where}: {exc}. "
            "Set DEVOPS_AGENT_KUBECONFIG / DEVOPS_AGENT_KUBE_CONTEXT to a valid kubeconfig and context."
        ) from exc


def object_path(res: Resource, namespace: str | None, name: str | None = None) -> str:
    """The API path of a collection or one object."""
    if res.namespaced and namespace:
        path = f"{res.api}/namespaces/{namespace}/{res.plural}"
    else:
        path = f"{res.api}/{res.plural}"
    return f"{path}/{name}" if name else path


FIELD_MANAGER = "devops-agent"
"""The manager name every write of the agent is recorded under."""


class Kube:
    """JSON requests against one context's API server."""

    def __init__(self, deps: ToolDeps, context: str | None) -> None:
        self.api: k8s.ApiClient = deps.kube(context)
        self.context = context
        self.timeout = float(getattr(deps, "http_timeout_s", 10))

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        what: str = "",
        raw_text: bool = False,
    ) -> Any:
        """Send one request; JSON responses are decoded, text (logs) returned as ``str``.

        Writes carry ``fieldManager=devops-agent``: the cluster's managedFields (and so the change
        journal) name the agent as the author, and diagnosis never takes its own fix for a suspect."""
        query = dict(query or {})
        if method in ("PATCH", "PUT", "POST"):
            query.setdefault("fieldManager", FIELD_MANAGER)
        params = [(k, v) for k, v in query.items() if v is not None and v != ""]
        headers = {"Accept": "application/json, */*", "Content-Type": content_type}
        method_, url, hdrs, body_, post = self.api.param_serialize(
            method, path, query_params=params, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            resp = self.api.call_api(method_, url, hdrs, body_, post, _request_timeout=self.timeout)
            raw = resp.read()  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BackendUnavailable(
                f"cannot reach the Kubernetes API at {self.host} (context {self.context or 'default'}): "
                f"{type(exc).__name__}: {exc}. Check that the cluster is up and the kubeconfig points at it."
            ) from exc
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        if not 200 <= resp.status <= 299:
            raise _api_error(resp.status, text, what or f"{method} {path}")
        if raw_text:
            return text
        try:
            return json.loads(text) if text else {}
        except json.JSONDecodeError:
            return text

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        res = resource_for(kind)
        what = f"{res.kind} {namespace + '/' if res.namespaced and namespace else ''}{name}"
        obj: Obj = self.request("GET", object_path(res, namespace, name), what=what)
        return obj

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        res = resource_for(kind)
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        what = f"{res.plural} in {namespace or 'all namespaces'}"
        body = self.request("GET", object_path(res, namespace), query=query, what=what)
        items: list[Obj] = body.get("items", []) if isinstance(body, dict) else []
        for item in items:  # list items carry no kind; shaping wants it
            item.setdefault("kind", res.kind)
        return items

    def list_versioned(self, kind: str, namespace: str | None = None) -> tuple[builtins.list[Obj], str]:
        """Every object of a kind and the list's resourceVersion (where a watch resumes from)."""
        res = resource_for(kind)
        body = self.request(
            "GET", object_path(res, namespace), what=f"{res.plural} in {namespace or 'all namespaces'}"
        )
        items: builtins.list[Obj] = body.get("items", []) if isinstance(body, dict) else []
        for item in items:
            item.setdefault("kind", res.kind)
        version = str(
            ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("resourceVersion") or ""
        )
        return items, version

    def watch(
        self,
        kind: str,
        resource_version: str,
        *,
        namespace: str | None = None,
        timeout_s: int = 60,
        on_open: Callable[[Any], None] | None = None,
    ) -> Iterator[Obj]:
        """Watch events (``{"type", "object"}``) of a kind from ``resource_version``, with bookmarks.

        The server ends the stream after ``timeout_s``; an ``ERROR`` event or HTTP status 410 raises
        :class:`WatchExpired` (list again). ``on_open`` receives the streaming response, so another
        thread can close it to stop the watch at once.
        """
        res = resource_for(kind)
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        params = [(k, v) for k, v in query.items() if v]
        headers = {"Accept": "application/json"}
        method_, url, hdrs, body_, post = self.api.param_serialize(
            "GET", object_path(res, namespace), query_params=params, header_params=headers,
            auth_settings=["BearerToken"],
        )  # fmt: skip
        what = f"watch of {res.plural} in {namespace or 'all namespaces'}"
        try:
            resp = self.api.call_api(
                method_, url, hdrs, body_, post, _request_timeout=(self.timeout, timeout_s + self.timeout)
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BackendUnavailable(
                f"cannot reach the Kubernetes API at {self.host} for the {what}: {type(exc).__name__}: {exc}"
            ) from exc
        raw = resp.response
        if resp.status == 410:
            raw.release_conn()
            raise WatchExpired(
                f"{what}: resourceVersion {resource_version} is too old (410 Gone); list again"
            )
        if not 200 <= resp.status <= 299:
            text = raw.data.decode("utf-8", "replace")
            raise _api_error(resp.status, text, what)
        if on_open is not None:
            on_open(raw)
        try:
            yield from _watch_events(raw, what)
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
            raise BackendUnavailable(f"the {what} broke off: {type(exc).__name__}: {exc}") from exc
        finally:
            raw.release_conn()

    def patch(self, kind: str, name: str, namespace: str | None, patch: Obj, *, dry_run: bool) -> Obj:
        """JSON merge patch; ``dry_run`` asks the server to validate and answer without persisting."""
        res = resource_for(kind)
        obj: Obj = self.request(
            "PATCH",
            object_path(res, namespace, name),
            query={"dryRun": "All" if dry_run else None},
            body=patch,
            content_type="application/merge-patch+json",
            what=f"{res.kind} {namespace}/{name}",
        )
        return obj

    def apply(self, obj: Obj, *, field_manager: str, force: bool, dry_run: bool) -> Obj:
        """Server-side apply of ``obj`` as ``field_manager`` (``force`` takes over others' fields)."""
        res = resource_for(str(obj.get("kind") or ""))
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") if res.namespaced else None
        out: Obj = self.request(
            "PATCH",
            object_path(res, namespace, meta.get("name")),
            query={
                "fieldManager": field_manager,
                "force": "true" if force else None,
                "dryRun": "All" if dry_run else None,
            },
            body=obj,
            content_type="application/apply-patch+yaml",
            what=f"server-side apply of {res.kind} {namespace + '/' if namespace else ''}{meta.get('name')}",
        )
        return out

    def replace(self, kind: str, obj: Obj, *, dry_run: bool) -> Obj:
        """PUT the whole object (optimistic concurrency through its resourceVersion)."""
        res = resource_for(kind)
        meta = obj["metadata"]
        out: Obj = self.request(
            "PUT",
            object_path(res, meta.get("namespace"), meta["name"]),
            query={"dryRun": "All" if dry_run else None},
            body=obj,
            what=f"{res.kind} {meta.get('namespace')}/{meta['name']}",
        )
        return out

    def create(self, kind: str, obj: Obj, *, dry_run: bool) -> Obj:
        """POST a new object; ``dry_run`` asks the server to admit it without persisting."""
        res = resource_for(kind)
        meta = obj["metadata"]
        out: Obj = self.request(
            "POST",
            object_path(res, meta.get("namespace")),
            query={"dryRun": "All" if dry_run else None},
            body=obj,
            what=f"{res.kind} {meta.get('namespace')}/{meta['name']}",
        )
        return out

    def delete(self, kind: str, name: str, namespace: str | None, *, dry_run: bool) -> Any:
        res = resource_for(kind)
        return self.request(
            "DELETE",
            object_path(res, namespace, name),
            query={"dryRun": "All" if dry_run else None},
            what=f"{res.kind} {namespace}/{name}",
        )

    def pod_log(self, pod: str, namespace: str, **query: Any) -> str:
        out = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
            query=query,
            what=f"logs of pod {namespace}/{pod}",
            raw_text=True,
        )
        return str(out)


def _watch_events(raw: Any, what: str) -> Iterator[Obj]:
    buffer = b""
    for chunk in raw.stream(65536, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if not line.strip():
                continue
            event: Obj = json.loads(line)
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                if status.get("code") == 410:
                    raise WatchExpired(
                        f"{what}: {status.get('message', 'resource version too old')} (410 Gone)"
                    )
                raise _api_error(int(status.get("code") or 500), json.dumps(status), what)
            yield event


def _api_error(status: int, body: str, what: str) -> ToolError:
    try:
        message = str(json.loads(body).get("message") or body)
    except (json.JSONDecodeError, AttributeError):
        message = body[:300]
    if status == 404:
        return NotFound(f"{what} not found ({message}). Check the name and namespace, e.g. with k8s_list.")
    if status in (401, 403):
        return ToolError(
            f"the Kubernetes API refused {what} (HTTP {status}: {message}); check the credentials and RBAC."
        )
    if status == 409:
        return ToolError(f"conflict on {what} (HTTP 409: {message}); someone changed it meanwhile, retry.")
    if status == 422 or status == 400:
        return ToolError(f"the Kubernetes API rejected {what} (HTTP {status}: {message}).")
    return ToolError(f"Kubernetes API error on {what}: HTTP {status}: {message}")
