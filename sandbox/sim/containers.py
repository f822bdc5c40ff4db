"""What the kubelet checks before and while a container runs: env, command, probes.

Pure functions over API objects and image profiles, with the error texts the real kubelet and
container runtime print, so ``kubectl describe pod`` reads like a real cluster.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.images import ImageProfile
from sandbox.sim.objects import Obj
from sandbox.sim.view import StoreView

_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


class ConfigError(Exception):
    """The container cannot be created from its spec (``CreateContainerConfigError``)."""


def _secret_value(secret: Obj, key: str) -> str | None:
    if key in (secret.get("stringData") or {}):
        return str(secret["stringData"][key])
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw).decode()
    except (ValueError, UnicodeDecodeError):
        return str(raw)


def _lookup(store: StoreView, kind: str, namespace: str, ref: Mapping[str, Any]) -> str | None:
    resource = "configmaps" if kind == "ConfigMap" else "secrets"
    name, key = ref.get("name", ""), ref.get("key", "")
    obj = store.try_get(resource, namespace, name)
    if obj is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    value = _secret_value(obj, key) if kind == "Secret" else (obj.get("data") or {}).get(key)
    if value is None and not ref.get("optional"):
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return None if value is None else str(value)


def _field_value(pod: Obj, path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    values = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
    }
    return str(values.get(path, ""))


def _env_from(store: StoreView, namespace: str, container: Mapping[str, Any]) -> dict[str, str]:
    """Variables from ``envFrom`` (every key of a configmap or secret, with an optional prefix)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if not ref:
                continue
            resource = "configmaps" if kind == "ConfigMap" else "secrets"
            obj = store.try_get(resource, namespace, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            for data_key in sorted((obj.get("data") or {}) | (obj.get("stringData") or {})):
                found = (
                    _secret_value(obj, data_key)
                    if kind == "Secret"
                    else (obj.get("data") or {}).get(data_key)
                )
                env[prefix + data_key] = str(found)
    return env


def resolve_env(store: StoreView, pod: Obj, container: Mapping[str, Any]) -> dict[str, str]:
    """The environment the container starts with. Raises ConfigError with the kubelet's message."""
    namespace = pod["metadata"]["namespace"]
    env = _env_from(store, namespace, container)
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "value" in var:
            env[name] = _VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), str(var["value"]))
            continue
        source = var.get("valueFrom") or {}
        value: str | None = ""
        if "configMapKeyRef" in source:
            value = _lookup(store, "ConfigMap", namespace, source["configMapKeyRef"])
        elif "secretKeyRef" in source:
            value = _lookup(store, "Secret", namespace, source["secretKeyRef"])
        elif "fieldRef" in source:
            value = _field_value(pod, source["fieldRef"].get("fieldPath", ""))
        if value is not None:
            env[name] = value
    return env


def command_problem(container: Mapping[str, Any], profile: ImageProfile) -> str | None:
    """The runtime's error when the container's command is not an executable the image has."""
    command = container.get("command") or list(profile.default_command)
    if not command or command[0] in profile.commands:
        return None
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
        f'runc create failed: unable to start container process: exec: "{command[0]}": '
        "executable file not found in $PATH: unknown"
    )


@dataclass(frozen=True)
class Crash:
    """How a started container will die by itself: after ``after_s``, with these lines and code."""

    after_s: float
    exit_code: int
    lines: tuple[str, ...]
    message: str
    fields: tuple[tuple[str, str], ...] = ()  # template fields for ``lines``: name, value, detail


def start_crash(profile: ImageProfile, env: Mapping[str, str]) -> Crash | None:
    """Whether the image, given this environment, exits on its own right after start."""
    if profile.crash_on_start is not None:
        code, message = profile.crash_on_start
        return Crash(min(1.0, profile.startup_s), code, (message,), message, (("detail", message),))
    for name, rule in profile.reads_env.items():
        value = env.get(name)
        problem = rule.problem(name, value)
        if problem is None or rule.on_invalid != "crash":
            continue
        lines = rule.crash_log or (problem,)
        fields = (("name", name), ("value", value or ""), ("detail", problem))
        return Crash(min(0.5, profile.startup_s), rule.exit_code, lines, problem, fields)
    return None


# --- probes ------------------------------------------------------------------------------------
def _probe_port(port: object, container: Mapping[str, Any]) -> int | None:
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for declared in container.get("ports") or []:
        if declared.get("name") == text:
            return int(declared.get("containerPort", 0))
    return None


def probe(
    spec: Mapping[str, Any], container: Mapping[str, Any], profile: ImageProfile, listening: bool, pod_ip: str
) -> str | None:
    """Run one probe; None on success, else the failure text the kubelet reports."""
    ip = pod_ip or "127.0.0.1"
    if "httpGet" in spec:
        http = spec["httpGet"]
        port = _probe_port(http.get("port"), container)
        path = http.get("path", "/")
        url = f"{http.get('scheme', 'HTTP').lower()}://{ip}:{port if port is not None else http.get('port')}{path}"
        if port is None:
            return f'Get "{url}": dial tcp {ip}: unknown port name {http.get("port")!r}'
        if port != profile.port or not listening:
            return f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused'
        if profile.protocol != "http":
            return f'Get "{url}": net/http: HTTP/1.x transport connection broken: malformed HTTP response'
        if path not in (profile.readiness_path, profile.liveness_path):
            return "HTTP probe failed with statuscode: 404"
        if profile.latency_ms >= 1000.0 * float(spec.get("timeoutSeconds", 1)):
            return f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        return None
    if "tcpSocket" in spec or "grpc" in spec:
        raw = (spec.get("tcpSocket") or spec.get("grpc") or {}).get("port")
        port = _probe_port(raw, container)
        if port != profile.port or not listening:
            return f"dial tcp {ip}:{port if port is not None else raw}: connect: connection refused"
        return None
    if "exec" in spec:
        command = " ".join(spec["exec"].get("command") or [])
        return None if listening else f'command "{command}" exited with 1'
    return None
