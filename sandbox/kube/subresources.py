"""Subresources: ``deployments/{name}/scale`` (autoscaling/v1 Scale) and ``pods/{name}/log``.

Pod logs come from a pluggable provider the simulation supplies::

    log_provider(namespace, pod, container, previous, since_seconds, tail_lines) -> list[str]

Lines may start with an RFC 3339 timestamp and a space (the format of ``kubectl logs --timestamps``);
the timestamp is stripped unless the request asks for ``timestamps=true``. A provider that takes a
``timestamps`` keyword is called with ``timestamps=True`` when the request asks for them.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable
from typing import Any

from sandbox.kube.api import KubeApi
from sandbox.kube.errors import ApiError, bad_request, conflict, invalid
from sandbox.kube.patching import apply_patch
from sandbox.kube.resources import Resource, by_plural
from sandbox.kube.selectors import selector_string

Obj = dict[str, Any]
LogProvider = Callable[[str, str, str, bool, int | None, int | None], list[str]]

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) ")


def no_logs(
    namespace: str,
    pod: str,
    container: str,
    previous: bool,
    since_seconds: int | None,
    tail_lines: int | None,
) -> list[str]:
    """The default provider: every container has an empty log."""
    return []


# --- scale -------------------------------------------------------------------------------------
def to_scale(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of a deployment or replica set."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_string(obj.get("spec", {}).get("selector")),
        },
    }


def get_scale(api: KubeApi, res: Resource, namespace: str, name: str) -> Obj:
    return to_scale(api.get(res, namespace, name))


def replace_scale(
    api: KubeApi, res: Resource, namespace: str, name: str, body: Any, dry_run: bool, manager: str
) -> Obj:
    """PUT .../scale: sets ``spec.replicas``; a stale resourceVersion in the Scale is a 409."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be an autoscaling/v1 Scale object")
    return _set_replicas(api, res, (namespace, name), body, dry_run, manager)


def patch_scale(
    api: KubeApi,
    res: Resource,
    namespace: str,
    name: str,
    content_type: str,
    patch: Any,
    dry_run: bool,
    manager: str,
) -> Obj:
    """PATCH .../scale (kubectl scale sends a merge patch ``{"spec":{"replicas":N}}``)."""
    scale = get_scale(api, res, namespace, name)
    changed = apply_patch(content_type, scale, patch)
    return _set_replicas(api, res, (namespace, name), changed, dry_run, manager)


def _set_replicas(
    api: KubeApi, res: Resource, where: tuple[str, str], scale: Obj, dry_run: bool, manager: str
) -> Obj:
    namespace, name = where
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        scale_res = Resource("scale", "Scale", "autoscaling", "v1")
        raise invalid(
            scale_res,
            name,
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                )
            ],
        )
    expect = str((scale.get("metadata") or {}).get("resourceVersion") or "")
    current = api.get(res, namespace, name)
    if expect and expect != current["metadata"]["resourceVersion"]:
        raise conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    updated = copy.deepcopy(current)
    updated.setdefault("spec", {})["replicas"] = replicas
    patch = [{"op": "replace", "path": "/spec/replicas", "value": replicas}]
    if not dry_run:
        updated = api.patch(
            res, namespace, name, "application/json-patch+json", patch, manager=manager, subresource="scale"
        )
    return to_scale(updated)


# --- logs --------------------------------------------------------------------------------------
def pod_logs(api: KubeApi, provider: LogProvider, namespace: str, name: str, query: dict[str, str]) -> str:
    """The text of ``GET .../pods/{name}/log`` for the query parameters kubectl and clients send."""
    pod = api.get(by_plural("pods"), namespace, name)
    container = _pick_container(pod, query.get("container", ""))
    previous = query.get("previous", "false").lower() == "true"
    _check_started(pod, container, previous)
    since = _int_param(query, "sinceSeconds")
    tail = _int_param(query, "tailLines")
    timestamps = query.get("timestamps", "false").lower() == "true"
    if timestamps and _takes_timestamps(provider):
        lines = list(provider(namespace, name, container, previous, since, tail, timestamps=True))  # type: ignore[call-arg]
    else:
        lines = list(provider(namespace, name, container, previous, since, tail))
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    if not timestamps:
        lines = [_TIMESTAMP.sub("", line, count=1) for line in lines]
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    limit = _int_param(query, "limitBytes")
    return text[:limit] if limit is not None else text


def _check_started(pod: Obj, container: str, previous: bool) -> None:
    """400 as the kubelet answers when there is no log to read: never started, or no previous instance."""
    status = pod.get("status") or {}
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    cs: Obj = next((c for c in statuses if c.get("name") == container), {})
    pod_name = pod["metadata"]["name"]
    started_before = (
        bool((cs.get("lastState") or {}).get("terminated")) or int(cs.get("restartCount") or 0) > 0
    )
    if previous:
        if not started_before:
            raise bad_request(f'previous terminated container "{container}" in pod "{pod_name}" not found')
        return
    state = cs.get("state") or {}
    if not cs or ("waiting" in state and not started_before):
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise bad_request(f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}')


def _takes_timestamps(provider: LogProvider) -> bool:
    try:
        return "timestamps" in inspect.signature(provider).parameters
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return False


def _pick_container(pod: Obj, wanted: str) -> str:
    names = [c.get("name", "") for c in pod.get("spec", {}).get("containers") or []]
    pod_name = pod["metadata"]["name"]
    if wanted:
        init = [c.get("name", "") for c in pod.get("spec", {}).get("initContainers") or []]
        if wanted not in names + init:
            raise bad_request(
                f"container {wanted} is not valid for pod {pod_name}: choose one of: [{' '.join(names)}]"
            )
        return wanted
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in names:
        return str(default)
    if len(names) == 1:
        return str(names[0])
    raise bad_request(
        f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]"
    )


def _int_param(query: dict[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise ApiError(400, "BadRequest", f"{key}={raw!r} is not an integer") from None
    if value < 0:
        raise ApiError(400, "BadRequest", f"{key}={raw!r} must be zero or more")
    return value
