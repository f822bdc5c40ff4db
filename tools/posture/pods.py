"""Pod hardening: who the container runs as, what it may do to the kernel and its own filesystem."""

from __future__ import annotations

from tools.posture.model import Obj
from tools.posture.registry import check
from tools.posture.workloads import WORKLOADS, per_container, pod_metadata, pod_spec, security

DANGEROUS_CAPS = frozenset({"SYS_ADMIN", "ALL"})


def _caps(c: Obj) -> Obj:
    return (c.get("securityContext") or {}).get("capabilities") or {}


def _non_root(spec: Obj, c: Obj) -> str | None:
    if security(spec, c, "runAsNonRoot") is True:
        return None
    uid = security(spec, c, "runAsUser")
    if uid is not None and int(uid) != 0:
        return None  # a non-zero UID is not root either
    return "neither runAsNonRoot: true nor a non-zero runAsUser is set (pod or container securityContext)"


check(
    "pod-run-as-non-root",
    severity="high",
    title="Containers must not run as root",
    why="A process running as root in a container is root on the node if it escapes, and can "
    "write anything the image holds.",
    fix="Set securityContext.runAsNonRoot: true (and a runAsUser above 10000) on the pod or each container.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_23",),
)(per_container(_non_root))


def _root_uid(spec: Obj, c: Obj) -> str | None:
    uid = security(spec, c, "runAsUser")
    if uid is not None and int(uid) < 10000:
        return f"runAsUser is {uid}, below 10000 (it can collide with a user of the node)"
    return None


check(
    "pod-high-uid",
    severity="low",
    title="Containers should run as a high UID",
    why="A low UID can be the same as a real user on the node; an escape then has that user's rights.",
    fix="Set securityContext.runAsUser to 10000 or more.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_40",),
)(per_container(_root_uid))


check(
    "pod-privileged",
    severity="critical",
    title="Containers must not be privileged",
    why="A privileged container has every capability and every device of the node: it is the node.",
    fix="Remove securityContext.privileged (or set it to false); add only the capability the process needs.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_16",),
)(
    per_container(
        lambda spec, c: (
            "securityContext.privileged is true"
            if (c.get("securityContext") or {}).get("privileged")
            else None
        )
    )
)


check(
    "pod-privilege-escalation",
    severity="high",
    title="Containers must not allow privilege escalation",
    why="Without allowPrivilegeEscalation: false a setuid binary in the image can gain more "
    "privileges than the container started with.",
    fix="Set securityContext.allowPrivilegeEscalation: false on every container.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_20",),
)(
    per_container(
        lambda spec, c: (
            None
            if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is False
            else "securityContext.allowPrivilegeEscalation is not false"
        )
    )
)


check(
    "pod-added-capabilities",
    severity="medium",
    title="Containers should not add Linux capabilities",
    why="Every added capability widens what a compromised process may do to the kernel.",
    fix="Remove securityContext.capabilities.add, or keep only NET_BIND_SERVICE where a low port is needed.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_25",),
)(
    per_container(
        lambda spec, c: (
            "capabilities.add is " + ", ".join(str(x) for x in _caps(c)["add"])
            if [x for x in _caps(c).get("add") or [] if x != "NET_BIND_SERVICE"]
            else None
        )
    )
)


check(
    "pod-sys-admin",
    severity="critical",
    title="Containers must not add SYS_ADMIN",
    why="CAP_SYS_ADMIN allows mounting filesystems and most of what root can do: a known escape path.",
    fix="Remove SYS_ADMIN (and ALL) from securityContext.capabilities.add.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_39",),
)(
    per_container(
        lambda spec, c: (
            "capabilities.add includes " + ", ".join(sorted(DANGEROUS_CAPS & set(_caps(c).get("add") or [])))
            if DANGEROUS_CAPS & set(_caps(c).get("add") or [])
            else None
        )
    )
)


check(
    "pod-drop-all-capabilities",
    severity="medium",
    title="Containers should drop all capabilities",
    why="The runtime's default set includes NET_RAW (packet spoofing) and others few services need.",
    fix="Set securityContext.capabilities.drop: [ALL] and add back only what the process needs.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_37", "CKV_K8S_28"),
)(
    per_container(
        lambda spec, c: (
            None if "ALL" in (_caps(c).get("drop") or []) else "capabilities.drop does not include ALL"
        )
    )
)


check(
    "pod-read-only-root-fs",
    severity="medium",
    title="Containers should have a read-only root filesystem",
    why="A writable root filesystem lets an attacker drop tools and persist changes in the container.",
    fix="Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the process must write.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_22",),
)(
    per_container(
        lambda spec, c: (
            None
            if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True
            else "securityContext.readOnlyRootFilesystem is not true"
        )
    )
)


def _seccomp(obj: Obj, inv: object) -> list[str] | None:
    spec = pod_spec(obj)
    if spec is None:
        return None
    annotations = pod_metadata(obj).get("annotations") or {}
    pod_profile = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    legacy = annotations.get("seccomp.security.alpha.kubernetes.io/pod")
    pod_ok = pod_profile in ("RuntimeDefault", "Localhost") or legacy in ("runtime/default", "docker/default")
    out = []
    for c in spec.get("containers") or []:
        own = ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        if own in ("RuntimeDefault", "Localhost") or (own is None and pod_ok):
            continue
        out.append(
            f"container {c.get('name', '?')}: seccompProfile is {own or pod_profile or 'unset'} "
            "(Unconfined when unset)"
        )
    return out


check(
    "pod-seccomp",
    severity="medium",
    title="Pods should use the runtime's default seccomp profile",
    why="Without a seccomp profile every system call is open to the process, including rarely used "
    "ones behind many kernel exploits.",
    fix="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_31",),
)(_seccomp)
