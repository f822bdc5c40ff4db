"""RBAC: roles that grant everything, read every secret or can grant themselves more, and
bindings of cluster-admin."""

from __future__ import annotations

from collections.abc import Callable

from tools.posture.model import Obj
from tools.posture.registry import check

ROLES = frozenset({"Role", "ClusterRole"})
BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})
BUILT_IN = frozenset({"cluster-admin", "admin", "edit", "view"})
"""Kubernetes' own user-facing ClusterRoles: wide by design, judged by who is bound to them."""
READ = frozenset({"get", "list", "watch", "*"})


def _own(obj: Obj) -> bool:
    name = str((obj.get("metadata") or {}).get("name") or "")
    return not name.startswith("system:") and not (obj.get("kind") == "ClusterRole" and name in BUILT_IN)


def rule_check(problem: Callable[[Obj], str | None]) -> Callable[[Obj, object], list[str] | None]:
    """A role check from a per-rule test."""

    def run(obj: Obj, inv: object) -> list[str] | None:
        if not _own(obj):
            return None
        out = []
        for i, rule in enumerate(obj.get("rules") or []):
            found = problem(rule)
            if found:
                out.append(f"rules[{i}]: {found}")
        return out

    run.__module__ = problem.__module__
    return run


def _verbs(rule: Obj) -> set[str]:
    return {str(v) for v in rule.get("verbs") or []}


def _resources(rule: Obj) -> set[str]:
    return {str(r) for r in rule.get("resources") or []}


check(
    "rbac-wildcard-verbs",
    severity="high",
    title="Roles should not grant every verb",
    why="verbs: ['*'] grants every present and future verb, including escalate, bind and impersonate.",
    fix="List the verbs the subject needs (get, list, watch ...).",
    kinds=ROLES,
    checkov=("CKV_K8S_49",),
)(rule_check(lambda r: "verbs include *" if "*" in _verbs(r) else None))

check(
    "rbac-wildcard-resources",
    severity="high",
    title="Roles should not grant every resource",
    why="resources: ['*'] includes secrets, pods/exec and every kind installed later.",
    fix="List the resources the subject needs.",
    kinds=ROLES,
    checkov=("CKV_K8S_49",),
)(rule_check(lambda r: "resources include * (secrets among them)" if "*" in _resources(r) else None))

check(
    "rbac-secrets-read",
    severity="high",
    title="Roles should not read Secrets",
    why="get/list/watch on secrets hands out every password and token of the namespace (of the cluster, "
    "for a ClusterRole).",
    fix="Drop secrets from the rule, or narrow it with resourceNames to the one Secret needed.",
    kinds=ROLES,
    checkov=("CKV2_K8S_5",),
)(
    rule_check(
        lambda r: (
            f"{', '.join(sorted(_verbs(r) & READ))} on secrets"
            if "secrets" in _resources(r) and _verbs(r) & READ and not r.get("resourceNames")
            else None
        )
    )
)

check(
    "rbac-escalation",
    severity="critical",
    title="Roles should not grant bind, escalate or impersonate",
    why="These verbs let the subject give itself, or act with, rights it was never granted.",
    fix="Remove bind, escalate and impersonate; grant the target rights directly if they are needed.",
    kinds=ROLES,
    checkov=("CKV_K8S_157", "CKV_K8S_158", "CKV2_K8S_3"),
)(
    rule_check(
        lambda r: (
            "verbs include " + ", ".join(sorted(_verbs(r) & {"bind", "escalate", "impersonate"}))
            if _verbs(r) & {"bind", "escalate", "impersonate"}
            else None
        )
    )
)

check(
    "rbac-exec",
    severity="high",
    title="Roles should not grant exec into pods or the node proxy",
    why="create on pods/exec, pods/attach or nodes/proxy is a shell in someone else's container, with "
    "its service account token.",
    fix="Remove the subresource from the rule; use logs and ephemeral debug containers under a separate role.",
    kinds=ROLES,
    checkov=("CKV2_K8S_2",),
)(
    rule_check(
        lambda r: (
            "create on " + ", ".join(sorted(_resources(r) & {"pods/exec", "pods/attach", "nodes/proxy"}))
            if _resources(r) & {"pods/exec", "pods/attach", "nodes/proxy"} and _verbs(r) & {"create", "*"}
            else None
        )
    )
)


def _cluster_admin(obj: Obj, inv: object) -> list[str] | None:
    if not _own(obj):
        return None
    role = obj.get("roleRef") or {}
    if role.get("kind") != "ClusterRole" or role.get("name") != "cluster-admin":
        return []
    who = ", ".join(
        f"{s.get('kind')} {s.get('namespace') + '/' if s.get('namespace') else ''}{s.get('name')}"
        for s in obj.get("subjects") or []
    )
    return [f"binds cluster-admin to {who or 'no subject'}"]


check(
    "rbac-cluster-admin-binding",
    severity="critical",
    title="Nothing should be bound to cluster-admin",
    why="cluster-admin can do anything to any object in any namespace; a leaked token of its subject "
    "is the whole cluster.",
    fix="Bind a role with the rights the subject needs; keep cluster-admin for break-glass humans.",
    kinds=BINDINGS,
)(_cluster_admin)
