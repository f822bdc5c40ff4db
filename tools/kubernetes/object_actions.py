"""Actions on single objects: a ConfigMap key, a Service's selector or port, a node, a pod.

Same contract as :mod:`tools.kubernetes.actions`: current state read first, ``changed=False`` when
already there, a server-side dry run on request, a diff, blast-radius figures and an undo.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools.base import ActionEffect, Target, ToolDeps, ToolResult, Undo, tool
from tools.errors import NotFound, ToolError, expected_errors
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context
from tools.kubernetes.effects import action_result, target_of, undo, yaml_diff


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_patch_configmap(
    deps: ToolDeps,
    name: str,
    namespace: str,
    key: str,
    value: Annotated[str | None, Field(description="null deletes")],
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Set one ConfigMap key (null deletes it); pods see it after a restart.
    Example: k8s_patch_configmap(name="api-config", namespace="ns", key="POOL_SIZE", value="20")"""
    kube = Kube(deps, context)
    cm = kube.get("configmap", name, namespace)
    old = (cm.get("data") or {}).get(key)
    base = {"target": target_of(cm, "ConfigMap", context), "pods_disrupted": 0}
    if old == value:
        return action_result(verb=f"set {key}", effect=ActionEffect(**base, changed=False), dry_run=dry_run)
    kube.patch("configmap", name, namespace, {"data": {key: value}}, dry_run=dry_run)
    effect = ActionEffect(
        **base,
        diff=yaml_diff(
            {key: old} if old is not None else {},
            {key: value} if value is not None else {},
            f"configmap/{name} data",
        ),
        undo=Undo(
            tool="k8s_patch_configmap",
            args={
                "name": name,
                "namespace": namespace,
                "key": key,
                "value": old,
                **({"context": context} if context else {}),
            },
            description=f"restore {key}" if old is not None else f"delete {key} again",
        ),
        expected_effect="workloads read the new value after their next restart (k8s_rollout_restart)",
    )
    return action_result(verb=f"set {key}", effect=effect, dry_run=dry_run)


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_patch_service(
    deps: ToolDeps,
    name: str,
    namespace: str,
    selector: dict[str, str] | None = None,
    target_port: int | None = None,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Replace a Service's selector and/or targetPort (fixes no endpoints).
    Example: k8s_patch_service(name="api", namespace="ns", selector={"app": "api"})"""
    kube = Kube(deps, context)
    svc = kube.get("service", name, namespace)
    spec = svc.get("spec", {})
    old_sel, ports = spec.get("selector") or {}, spec.get("ports") or []
    old_port = ports[0].get("targetPort", ports[0].get("port")) if ports else None
    patch: Obj = {"spec": {}}
    diff = []
    if selector is not None and selector != old_sel:
        patch["spec"]["selector"] = {**dict.fromkeys(old_sel), **selector}  # null removes old keys
        diff.append(f"service/{name} selector: {old_sel} -> {selector}")
    if (
        target_port is not None
        and ports
        and any(p.get("targetPort", p.get("port")) != target_port for p in ports)
    ):
        patch["spec"]["ports"] = [{**p, "targetPort": target_port} for p in ports]
        diff.append(f"service/{name} targetPort: {old_port} -> {target_port}")
    matching = (
        kube.list(
            "pod", namespace, label_selector=",".join(f"{k}={v}" for k, v in (selector or old_sel).items())
        )
        if (selector or old_sel)
        else []
    )
    base = {"target": target_of(svc, "Service", context), "pods_disrupted": 0, "pods_total": len(matching)}
    if not diff:
        return action_result(
            verb="patch service", effect=ActionEffect(**base, changed=False), dry_run=dry_run
        )
    kube.patch("service", name, namespace, patch, dry_run=dry_run)
    effect = ActionEffect(
        **base,
        diff="\n".join(diff),
        undo=undo(
            "k8s_patch_service",
            "restore the previous selector/port",
            name=name,
            namespace=namespace,
            context=context,
            selector=old_sel if "selector" in patch["spec"] else None,
            target_port=old_port if "ports" in patch["spec"] else None,
        ),
        expected_effect=f"{len(matching)} pods match the service's selector after the change",
    )
    return action_result(
        verb="patch service", effect=effect, dry_run=dry_run, data={"matching_pods": len(matching)}
    )


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_cordon(
    deps: ToolDeps, node: str, uncordon: bool = False, context: Context = None, *, dry_run: bool = False
) -> ToolResult:
    """Cordon a node (or uncordon=True); running pods stay.
    Example: k8s_cordon(node="node-2")"""
    kube = Kube(deps, context)
    obj = kube.get("node", node)
    was = bool(obj.get("spec", {}).get("unschedulable"))
    want = not uncordon
    pods = [
        p
        for p in kube.list("pod", None, field_selector=f"spec.nodeName={node}")
        if p.get("spec", {}).get("nodeName") == node
    ]
    base = {"target": target_of(obj, "Node", context), "pods_total": len(pods), "pods_disrupted": 0}
    verb = "uncordon" if uncordon else "cordon"
    if was == want:
        return action_result(verb=verb, effect=ActionEffect(**base, changed=False), dry_run=dry_run)
    kube.patch("node", node, None, {"spec": {"unschedulable": want}}, dry_run=dry_run)
    effect = ActionEffect(
        **base,
        diff=f"node/{node} spec.unschedulable: {was} -> {want}",
        undo=undo(
            "k8s_cordon", "uncordon" if want else "cordon again", node=node, uncordon=want, context=context
        ),
        expected_effect="no new pods scheduled on the node; running pods keep running"
        if want
        else "the node accepts new pods again",
    )
    return action_result(verb=verb, effect=effect, dry_run=dry_run)


@tool(risk="destructive", tags=("kubernetes", "action"))
@expected_errors
def k8s_delete_pod(
    deps: ToolDeps, pod: str, namespace: str, context: Context = None, *, dry_run: bool = False
) -> ToolResult:
    """Delete one pod; its controller recreates it.
    Example: k8s_delete_pod(pod="api-7d9f-x2k", namespace="ns")"""
    kube = Kube(deps, context)
    try:
        obj = kube.get("pod", pod, namespace)
    except NotFound:
        effect = ActionEffect(
            target=Target(kind="Pod", name=pod, namespace=namespace, context=context),
            changed=False,
            pods_disrupted=0,
        )
        return action_result(verb="delete (already gone)", effect=effect, dry_run=dry_run)
    owner = (obj["metadata"].get("ownerReferences") or [{}])[0]
    siblings = _siblings(kube, obj)
    kube.delete("pod", pod, namespace, dry_run=dry_run)
    effect = ActionEffect(
        target=target_of(obj, "Pod", context),
        pods_total=len(siblings),
        pods_disrupted=1,
        diff=f"pod/{pod}: deleted",
        undo=None,
        expected_effect=f"{owner.get('kind', 'nothing')} {owner.get('name', '')} recreates the pod"
        if owner
        else "the pod is gone for good: it has no controller",
    )
    return action_result(verb="delete pod", effect=effect, dry_run=dry_run)


def _siblings(kube: Kube, pod: Obj) -> list[Obj]:
    labels = pod["metadata"].get("labels") or {}
    selector = ",".join(f"{k}={v}" for k, v in labels.items() if k != "pod-template-hash")
    try:
        return kube.list("pod", pod["metadata"]["namespace"], label_selector=selector or None) or [pod]
    except ToolError:
        return [pod]
