"""The two posture fixes safe to automate, as guarded write tools: a PodDisruptionBudget for a
replicated Deployment, and pinning a container's image to the digest its running pods report.

Both follow ``tools.kubernetes.actions``: read, compute, ``changed=False`` when there is nothing to
do, server-side dry run when ``dry_run``, and an undo in the effect.
"""

from __future__ import annotations

from typing import Any

from tools.base import ActionEffect, Target, ToolDeps, ToolResult, tool
from tools.errors import NotFound, ToolError, expected_errors
from tools.kubernetes.actions import container_of, deployment_effect, patch_containers
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context, deployment_pods
from tools.kubernetes.effects import action_result, rolling_disruption, undo

MANAGED_BY = {"app.kubernetes.io/managed-by": "devops-agent"}


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels") or {}
    return (
        bool(match)
        and not selector.get("matchExpressions")
        and all(labels.get(k) == v for k, v in match.items())
    )


def _pdb(dep: Obj, max_unavailable: int) -> Obj:
    meta = dep["metadata"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": f"{meta['name']}-pdb",
            "namespace": meta["namespace"],
            "labels": {**(meta.get("labels") or {}), **MANAGED_BY},
        },
        "spec": {"maxUnavailable": max_unavailable, "selector": dep["spec"]["selector"]},
    }


@tool(risk="write", tags=("kubernetes", "action", "posture"))
@expected_errors
def k8s_set_pdb(
    deps: ToolDeps,
    deployment: str,
    namespace: str,
    remove: bool = False,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Add a PodDisruptionBudget (maxUnavailable 1) to a deployment; remove=true undoes it.
    Example: k8s_set_pdb(deployment="api", namespace="ns")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    max_unavailable = 1
    pdb = _pdb(dep, max_unavailable)
    name = pdb["metadata"]["name"]
    target = Target(
        kind="PodDisruptionBudget",
        name=name,
        namespace=namespace,
        context=context,
        labels=dep["metadata"].get("labels") or {},
    )
    base = deployment_effect(dep, context) | {"target": target, "pods_disrupted": 0}
    if remove:
        return _remove_pdb(kube, deployment, namespace, context, base, dry_run)
    labels = (dep["spec"]["template"].get("metadata") or {}).get("labels") or {}
    covering = [p for p in kube.list("pdb", namespace) if _selects(p["spec"].get("selector") or {}, labels)]
    if covering:
        verb = f"add PodDisruptionBudget ({covering[0]['metadata']['name']} already covers the pods)"
        return action_result(verb=verb, effect=ActionEffect(**base, changed=False), dry_run=dry_run)
    kube.create("pdb", pdb, dry_run=dry_run)
    selector = ",".join(f"{k}={v}" for k, v in (dep["spec"]["selector"].get("matchLabels") or {}).items())
    effect = ActionEffect(
        **base,
        diff=f"+ PodDisruptionBudget {namespace}/{name}: maxUnavailable {max_unavailable}, selector {selector}",
        undo=undo(
            "k8s_set_pdb",
            f"delete PodDisruptionBudget {name}",
            deployment=deployment,
            namespace=namespace,
            remove=True,
            context=context,
        ),
        expected_effect=(
            f"voluntary evictions (node drains) take at most {max_unavailable} pod(s) of {deployment} "
            "at a time; running pods are untouched"
        ),
    )
    return action_result(verb=f"add PodDisruptionBudget {name}", effect=effect, dry_run=dry_run)


def _remove_pdb(
    kube: Kube, deployment: str, namespace: str, context: str | None, base: dict[str, Any], dry_run: bool
) -> ToolResult:
    name = f"{deployment}-pdb"
    try:
        current = kube.get("pdb", name, namespace)
    except NotFound:
        return action_result(
            verb=f"remove PodDisruptionBudget {name}",
            effect=ActionEffect(**base, changed=False),
            dry_run=dry_run,
        )
    labels = current["metadata"].get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") != MANAGED_BY["app.kubernetes.io/managed-by"]:
        raise ToolError(
            f"PodDisruptionBudget {namespace}/{name} was not created by devops-agent (no label "
            "app.kubernetes.io/managed-by=devops-agent); the agent only removes budgets it added. Delete it by hand."
        )
    kube.delete("pdb", name, namespace, dry_run=dry_run)
    spec = current.get("spec") or {}
    effect = ActionEffect(
        **base,
        diff=f"- PodDisruptionBudget {namespace}/{name}",
        undo=undo(
            "k8s_set_pdb",
            f"add PodDisruptionBudget {name} again",
            deployment=deployment,
            namespace=namespace,
            context=context,
        ),
        expected_effect="node drains may again evict every pod of the deployment at once",
    )
    text = action_result(verb=f"remove PodDisruptionBudget {name}", effect=effect, dry_run=dry_run)
    text.data = {**(text.data or {}), "removed_spec": spec}
    return text


def running_digests(kube: Kube, dep: Obj, container: str, image: str) -> set[str]:
    """The digests (``sha256:...``) the deployment's pods report running ``image`` in ``container``,
    from ``status.containerStatuses[].imageID`` (what the kubelet pulled, on any runtime)."""
    found = set()
    for pod in deployment_pods(kube, dep):
        spec_images = {c.get("name"): c.get("image") for c in pod.get("spec", {}).get("containers") or []}
        if spec_images.get(container) != image:
            continue  # a pod of another revision
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            image_id = str(cs.get("imageID") or "")
            if cs.get("name") == container and "@sha256:" in image_id:
                found.add(image_id.rsplit("@", 1)[1])
    return found


@tool(risk="write", tags=("kubernetes", "action", "posture"))
@expected_errors
def k8s_pin_image_digest(
    deps: ToolDeps,
    deployment: str,
    namespace: str,
    container: str,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Pin a container's image to the digest its running pods report.
    Example: k8s_pin_image_digest(deployment="api", namespace="ns", container="api")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    c = container_of(dep, container)
    image = str(c.get("image") or "")
    base = deployment_effect(dep, context)
    if "@" in image:
        return action_result(
            verb=f"pin {image}", effect=ActionEffect(**base, changed=False, pods_disrupted=0), dry_run=dry_run
        )
    digests = running_digests(kube, dep, container, image)
    if not digests:
        raise NotFound(
            f"no running pod of deployment {namespace}/{deployment} reports an imageID for container {container} "
            f"({image}), so its digest is unknown. Wait until a pod runs it, or pin it by hand with k8s_set_image."
        )
    if len(digests) > 1:
        raise ToolError(
            f"pods of {namespace}/{deployment} run {len(digests)} different builds of {image} "
            f"({', '.join(sorted(digests))}): the tag moved. Pick the build you trust and pin it with k8s_set_image."
        )
    pinned = f"{image}@{digests.pop()}"
    c["image"] = pinned
    patch_containers(kube, dep, dry_run)
    effect = ActionEffect(
        **base,
        pods_disrupted=rolling_disruption(dep),
        diff=f"deployment/{deployment} container {container} image: {image} -> {pinned}",
        undo=undo(
            "k8s_set_image",
            f"restore image {image}",
            deployment=deployment,
            namespace=namespace,
            container=container,
            image=image,
            context=context,
        ),
        expected_effect="a rolling update to the same build the pods run now; the tag can no longer move under it",
    )
    return action_result(verb=f"pin {image}", effect=effect, dry_run=dry_run, data={"image": pinned})
