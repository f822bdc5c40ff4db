"""Host access: the node's namespaces, filesystem and ports seen from inside a pod."""

from __future__ import annotations

from tools.posture.model import CheckFunc, Inventory, Obj, Severity
from tools.posture.registry import check
from tools.posture.workloads import WORKLOADS, per_container, pod_spec

SOCKETS = ("/var/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/crio/crio.sock")


def _host_flag(flag: str, what: str) -> CheckFunc:
    def run(obj: Obj, inv: Inventory) -> list[str] | None:
        spec = pod_spec(obj)
        if spec is None:
            return None
        return [f"spec.{flag} is true: the pod shares the node's {what}"] if spec.get(flag) else []

    return run


HOST_NAMESPACES: tuple[tuple[str, str, Severity, str, str], ...] = (
    ("hostNetwork", "network namespace", "high", "CKV_K8S_19",
     "A pod on the host network can listen on and sniff every interface of the node and bypasses "
     "NetworkPolicies."),
    ("hostPID", "process namespace", "high", "CKV_K8S_17",
     "A pod in the host's PID namespace sees every process of the node and can signal or trace them."),
    ("hostIPC", "IPC namespace", "high", "CKV_K8S_18",
     "A pod in the host's IPC namespace can read shared memory of every process on the node."),
)  # fmt: skip
for _flag, _what, _sev, _ckv, _why in HOST_NAMESPACES:
    check(
        f"host-{_flag[4:].lower()}",
        severity=_sev,
        title=f"Pods must not set {_flag}",
        why=_why,
        fix=f"Remove spec.{_flag} (or set it to false).",
        kinds=WORKLOADS,
        checkov=(_ckv,),
    )(_host_flag(_flag, _what))


def _host_paths(obj: Obj) -> list[tuple[str, str]]:
    spec = pod_spec(obj) or {}
    return [
        (str(v.get("name")), str((v.get("hostPath") or {}).get("path")))
        for v in spec.get("volumes") or []
        if v.get("hostPath")
    ]


def _host_path(obj: Obj, inv: object) -> list[str] | None:
    if pod_spec(obj) is None:
        return None
    return [f"volume {name} mounts the node's {path}" for name, path in _host_paths(obj)]


check(
    "host-path",
    severity="high",
    title="Pods should not mount hostPath volumes",
    why="A hostPath volume gives the pod the node's files: logs of other pods, kubelet credentials, "
    "and with write access a way to take over the node.",
    fix="Use an emptyDir, a ConfigMap/Secret volume or a PersistentVolumeClaim instead.",
    kinds=WORKLOADS,
)(_host_path)


def _socket(obj: Obj, inv: object) -> list[str] | None:
    if pod_spec(obj) is None:
        return None
    return [
        f"volume {name} mounts the container runtime socket {path}"
        for name, path in _host_paths(obj)
        if path.rstrip("/") in SOCKETS or path.rstrip("/") in ("/var/run", "/run")
    ]


check(
    "host-runtime-socket",
    severity="critical",
    title="Pods must not mount the container runtime's socket",
    why="Whoever reaches the Docker/containerd socket can start a privileged container on the node.",
    fix="Remove the hostPath volume of the runtime socket; build images with a rootless builder.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_27",),
)(_socket)


def _host_port(spec: Obj, c: Obj) -> str | None:
    ports = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
    return f"hostPort {', '.join(ports)} binds the node's port" if ports else None


check(
    "host-port",
    severity="medium",
    title="Containers should not bind host ports",
    why="A hostPort ties the pod to nodes where the port is free and exposes it on the node's address, "
    "around the Service and its NetworkPolicies.",
    fix="Remove ports[].hostPort and reach the pod through a Service.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_26",),
)(per_container(_host_port))
