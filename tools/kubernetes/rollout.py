"""Rollout history and ``k8s_rollback`` with ``kubectl rollout undo`` semantics, made idempotent.

Revisions live on the deployment's ReplicaSets (annotation ``deployment.kubernetes.io/revision``).
Rolling back copies the chosen ReplicaSet's pod template (minus ``pod-template-hash``) into the
deployment. A rollback records where it came from and which ReplicaSet it restored in the annotation
``devops-agent.io/rollback`` so that a repeated "undo to previous" is a no-op instead of flipping back.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tools.base import ActionEffect, ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import ToolError, expected_errors
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context
from tools.kubernetes.effects import action_result, rolling_disruption, target_of, undo, yaml_diff
from tools.kubernetes.shape import CHANGE_CAUSE, REVISION, age, images, table

ROLLBACK_MARK = "devops-agent.io/rollback"
HASH_LABEL = "pod-template-hash"


def revision_of(obj: Obj) -> int:
    """The revision annotation of a deployment or ReplicaSet (0 when absent)."""
    try:
        return int(obj.get("metadata", {}).get("annotations", {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def owned_replicasets(kube: Kube, dep: Obj) -> list[Obj]:
    """The deployment's ReplicaSets, highest revision first."""
    meta = dep["metadata"]
    selector = dep.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    rss = kube.list(
        "replicaset",
        meta.get("namespace"),
        label_selector=",".join(f"{k}={v}" for k, v in selector.items()) or None,
    )

    def owned(rs: Obj) -> bool:
        refs = rs.get("metadata", {}).get("ownerReferences") or []
        return any(
            r.get("kind") == "Deployment"
            and (r.get("uid") == meta.get("uid") or r.get("name") == meta["name"])
            for r in refs
        )

    return sorted((rs for rs in rss if owned(rs)), key=revision_of, reverse=True)


def normalized_template(template: Obj) -> Obj:
    """A pod template without the ReplicaSet's ``pod-template-hash`` label (what a rollback writes)."""
    out = copy.deepcopy(template)
    labels = out.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


# Fields the API server fills in with defaults: ignored when comparing templates, so a template
# copied into a ReplicaSet by one server and the same template defaulted by another compare equal.
_DEFAULTED_POD = {"restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy", "schedulerName"}
_DEFAULTED_CONTAINER = {"imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy"}


def _semantic(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        drop = _DEFAULTED_POD if key == "spec" and "containers" in value else set()
        drop |= _DEFAULTED_CONTAINER if "image" in value else set()
        out = {k: _semantic(v, k) for k, v in value.items() if k not in drop}
        if "containerPort" in out and out.get("protocol") == "TCP":
            out.pop("protocol")
        return {k: v for k, v in out.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_semantic(v, key) for v in value]
    return value


def same_template(a: Obj, b: Obj) -> bool:
    """True when two pod templates describe the same pods (hash label and server defaults ignored)."""
    return canonical_template(a) == canonical_template(b)


def canonical_template(template: Obj) -> str:
    """A stable text form of a pod template, without the hash label and server-filled defaults."""
    return json.dumps(_semantic(normalized_template(template)), sort_keys=True)


def history_rows(dep: Obj, rss: list[Obj]) -> list[dict[str, Any]]:
    current = revision_of(dep)
    tmpl = dep.get("spec", {}).get("template", {})
    return [
        {
            "revision": revision_of(rs),
            "images": images(rs["spec"]["template"].get("spec", {})),
            "change_cause": rs["metadata"].get("annotations", {}).get(CHANGE_CAUSE, ""),
            "created": rs["metadata"].get("creationTimestamp"),
            "replicaset": rs["metadata"]["name"],
            "ready": f"{rs.get('status', {}).get('readyReplicas') or 0}/{rs.get('spec', {}).get('replicas', 0)}",
            "current": revision_of(rs) == current or same_template(rs["spec"]["template"], tmpl),
        }
        for rs in rss
    ]


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def k8s_rollout_history(
    deps: ToolDeps, deployment: str, namespace: str, context: Context = None
) -> ToolResult:
    """Revisions with image and change cause: did a rollout precede the trouble?
    Example: k8s_rollout_history(deployment="api", namespace="ns")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    rows = history_rows(dep, owned_replicasets(kube, dep))
    if not rows:
        return ToolResult.no_data(f"deployment {namespace}/{deployment} has no ReplicaSets yet")
    text = table(
        ("REVISION", "IMAGES", "CHANGE-CAUSE", "AGE", "READY", ""),
        [
            (
                r["revision"],
                r["images"],
                r["change_cause"] or "-",
                age(r["created"]),
                r["ready"],
                "<- current" if r["current"] else "",
            )
            for r in rows
        ],
    )
    return shaped(deps, "k8s_rollout_history", f"deployment {namespace}/{deployment}\n{text}", rows)


def _pick_target(dep: Obj, rss: list[Obj], to_revision: int | None) -> Obj | None:
    """The ReplicaSet to restore, or None when a previous "undo" already restored it."""
    tmpl = dep["spec"]["template"]
    if to_revision is not None:
        for rs in rss:
            if revision_of(rs) == to_revision:
                return rs
        known = ", ".join(str(revision_of(rs)) for rs in rss) or "none"
        raise ToolError(
            f"deployment {dep['metadata']['name']} has no revision {to_revision} (known revisions: {known})."
        )
    mark = _read_mark(dep)
    restored = next((rs for rs in rss if rs["metadata"]["name"] == mark.get("to_rs")), None)
    if restored is not None and same_template(restored["spec"]["template"], tmpl):
        return None  # already rolled back and nothing deployed since: do not flip back
    current = revision_of(dep) or max((revision_of(rs) for rs in rss), default=0)
    for rs in rss:
        if revision_of(rs) < current and not same_template(rs["spec"]["template"], tmpl):
            return rs
    raise ToolError(
        f"deployment {dep['metadata']['name']} has no previous revision to roll back to (current revision {current}); "
        "see k8s_rollout_history."
    )


def _read_mark(dep: Obj) -> dict[str, Any]:
    raw = dep["metadata"].get("annotations", {}).get(ROLLBACK_MARK)
    try:
        mark = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return mark if isinstance(mark, dict) else {}


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_rollback(
    deps: ToolDeps,
    deployment: str,
    namespace: str,
    to_revision: int | None = None,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Roll back to the previous revision (or to_revision) like kubectl rollout undo; idempotent.
    Example: k8s_rollback(deployment="api", namespace="ns")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    rss = owned_replicasets(kube, dep)
    target_rs = _pick_target(dep, rss, to_revision)
    current = revision_of(dep)
    replicas = int(dep["spec"].get("replicas", 1))
    base = {
        "target": target_of(dep, "Deployment", context),
        "replicas_before": replicas,
        "replicas_after": replicas,
    }
    base["pods_total"] = int(dep.get("status", {}).get("replicas") or replicas)
    if target_rs is None or same_template(target_rs["spec"]["template"], dep["spec"]["template"]):
        effect = ActionEffect(**base, changed=False, pods_disrupted=0, diff="")
        return action_result(verb="rollback", effect=effect, dry_run=dry_run, data={"revision": current})
    new_template = normalized_template(target_rs["spec"]["template"])
    new_dep = copy.deepcopy(dep)
    new_dep["spec"]["template"] = new_template
    annotations = new_dep["metadata"].setdefault("annotations", {})
    if to_revision is None:  # "undo to previous": remember it, so a repeat does not flip back
        mark = {
            "from_revision": current,
            "to_revision": revision_of(target_rs),
            "to_rs": target_rs["metadata"]["name"],
        }
        annotations[ROLLBACK_MARK] = json.dumps(mark, sort_keys=True)
    else:
        # an explicit revision (an undo rolling forward, a human's choice) is a new rollout: a later
        # "undo to previous" must leave it, not treat it as a rollback already done
        annotations.pop(ROLLBACK_MARK, None)
    kube.replace("deployment", new_dep, dry_run=dry_run)
    effect = ActionEffect(
        **base,
        changed=True,
        pods_disrupted=rolling_disruption(dep),
        diff=yaml_diff(dep["spec"]["template"], new_template, f"deployment/{deployment} spec.template"),
        undo=undo(
            "k8s_rollback",
            f"roll forward to revision {current}",
            deployment=deployment,
            namespace=namespace,
            to_revision=current,
            context=context,
        ),
        expected_effect=f"pods replaced by revision {revision_of(target_rs)} ({images(new_template.get('spec', {}))}) in a rolling update",
    )
    data = {
        "from_revision": current,
        "to_revision": revision_of(target_rs),
        "image": images(new_template.get("spec", {})),
    }
    return action_result(
        verb=f"rollback to revision {revision_of(target_rs)}", effect=effect, dry_run=dry_run, data=data
    )
