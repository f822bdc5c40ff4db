"""Write and destructive Kubernetes tools.

Each action reads the current state, computes the change, returns ``changed=False`` when there is
nothing to do, asks the server for a dry run (``dryRun=All``) when ``dry_run`` is set, and reports
the diff, blast radius figures and an undo recipe in ``ToolResult.effect``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field

from tools.base import ActionEffect, ToolDeps, ToolResult, tool
from tools.errors import NotFound, ToolError, expected_errors
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context, config_refs, find_hpa
from tools.kubernetes.effects import action_result, rolling_disruption, target_of, undo
from tools.kubernetes.rollout import canonical_template

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTARTED_FOR = "devops-agent.io/restarted-for"


def deployment_effect(dep: Obj, context: str | None, **kw: Any) -> dict[str, Any]:
    """The :class:`ActionEffect` fields every action on a deployment reports (target, replicas)."""
    replicas = int(dep["spec"].get("replicas", 1))
    return {
        "target": target_of(dep, "Deployment", context),
        "replicas_before": replicas,
        "replicas_after": replicas,
        "pods_total": int(dep.get("status", {}).get("replicas") or replicas),
        **kw,
    }


def pods_fingerprint(kube: Kube, dep: Obj) -> str:
    """What the pods run on: the template (restart stamp aside) and the data of every ConfigMap and
    Secret it reads. Equal fingerprints mean a restart would bring back the same pods."""
    template = copy.deepcopy(dep["spec"]["template"])
    (template.get("metadata", {}).get("annotations") or {}).pop(RESTARTED_AT, None)
    namespace = dep["metadata"]["namespace"]
    configmaps, secrets = config_refs(template)
    inputs: dict[str, Any] = {"template": canonical_template(template)}
    for kind, names in (("configmap", configmaps), ("secret", secrets)):
        for name in sorted(names):
            try:
                obj = kube.get(kind, name, namespace)
                inputs[f"{kind}/{name}"] = [obj.get("data"), obj.get("binaryData"), obj.get("stringData")]
            except ToolError:
                inputs[f"{kind}/{name}"] = None  # missing or forbidden: still part of what the pods see
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_rollout_restart(
    deps: ToolDeps, deployment: str, namespace: str, context: Context = None, *, dry_run: bool = False
) -> ToolResult:
    """Rolling restart of a deployment's pods (no undo).
    Example: k8s_rollout_restart(deployment="api", namespace="ns")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    annotations = dep["spec"]["template"].get("metadata", {}).get("annotations") or {}
    fingerprint = pods_fingerprint(kube, dep)
    if (dep["metadata"].get("annotations") or {}).get(RESTARTED_FOR) == fingerprint:
        effect = ActionEffect(**deployment_effect(dep, context), changed=False, pods_disrupted=0)
        verb = f"restart (pods already restarted at {annotations.get(RESTARTED_AT)} for this template and config)"
        return action_result(verb=verb, effect=effect, dry_run=dry_run)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {
        "metadata": {"annotations": {RESTARTED_FOR: fingerprint}},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}},
    }
    kube.patch("deployment", deployment, namespace, patch, dry_run=dry_run)
    effect = ActionEffect(
        **deployment_effect(dep, context),
        changed=True,
        pods_disrupted=rolling_disruption(dep),
        diff=f"spec.template.metadata.annotations.{RESTARTED_AT}: {annotations.get(RESTARTED_AT, '<none>')} -> {stamp}",
        undo=None,
        expected_effect="every pod is replaced by an identical one, a few at a time (a restart has no undo)",
    )
    return action_result(verb="rollout restart", effect=effect, dry_run=dry_run)


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_scale(
    deps: ToolDeps,
    deployment: str,
    namespace: str,
    replicas: Annotated[int, Field(ge=0)],
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Set replicas; on an HPA-managed deployment raises the HPA's minReplicas instead.
    Example: k8s_scale(deployment="api", namespace="ns", replicas=6)"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    hpa = find_hpa(kube, namespace, deployment)
    if hpa is not None:
        return _scale_hpa(kube, dep, hpa, replicas, context, dry_run)
    before = int(dep["spec"].get("replicas", 1))
    base = deployment_effect(dep, context) | {
        "replicas_after": replicas,
        "pods_disrupted": max(before - replicas, 0),
    }
    if before == replicas:
        return action_result(
            verb=f"scale to {replicas}", effect=ActionEffect(**base, changed=False), dry_run=dry_run
        )
    kube.patch("deployment", deployment, namespace, {"spec": {"replicas": replicas}}, dry_run=dry_run)
    effect = ActionEffect(
        **base,
        diff=f"deployment/{deployment} spec.replicas: {before} -> {replicas}",
        undo=undo(
            "k8s_scale",
            f"scale back to {before}",
            deployment=deployment,
            namespace=namespace,
            replicas=before,
            context=context,
        ),
        expected_effect=f"{abs(replicas - before)} pods {'added' if replicas > before else 'removed'}",
    )
    return action_result(verb=f"scale to {replicas}", effect=effect, dry_run=dry_run)


def _scale_hpa(
    kube: Kube, dep: Obj, hpa: Obj, replicas: int, context: str | None, dry_run: bool
) -> ToolResult:
    spec = hpa["spec"]
    name, ns = hpa["metadata"]["name"], hpa["metadata"]["namespace"]
    old_min, old_max = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
    # a floor at or above the ceiling would pin the autoscaler at its maximum (KubeHpaMaxedOut for
    # ever): raise the ceiling to twice the new floor so it keeps room to follow the load
    new_max = old_max if replicas < old_max else 2 * replicas
    before = int(dep["spec"].get("replicas", 1))
    base = deployment_effect(dep, context) | {
        "replicas_after": max(replicas, min(before, new_max)),
        "pods_disrupted": max(before - replicas, 0) if replicas < old_min else 0,
    }
    verb = f"scale via HPA {name} (minReplicas {replicas})"
    if old_min == replicas and new_max == old_max:
        return action_result(verb=verb, effect=ActionEffect(**base, changed=False), dry_run=dry_run)
    kube.patch("hpa", name, ns, {"spec": {"minReplicas": replicas, "maxReplicas": new_max}}, dry_run=dry_run)
    diff = f"hpa/{name} spec.minReplicas: {old_min} -> {replicas}"
    if new_max != old_max:
        diff += f"\nhpa/{name} spec.maxReplicas: {old_max} -> {new_max}"
    effect = ActionEffect(
        **base,
        diff=diff,
        undo=undo(
            "k8s_scale",
            f"restore HPA minReplicas {old_min}"
            + (f" (maxReplicas stays {new_max})" if new_max != old_max else ""),
            deployment=dep["metadata"]["name"],
            namespace=ns,
            replicas=old_min,
            context=context,
        ),
        expected_effect=f"deployment is HPA-managed: the HPA now keeps at least {replicas} replicas",
    )
    return action_result(verb=verb, effect=effect, dry_run=dry_run, data={"hpa": name})


def container_of(dep: Obj, container: str) -> Obj:
    """The named container of a deployment's template; NotFound lists the ones it has."""
    containers = dep["spec"]["template"]["spec"].get("containers") or []
    for c in containers:
        if c.get("name") == container:
            c_: Obj = c
            return c_
    names = ", ".join(str(c.get("name")) for c in containers)
    raise NotFound(
        f"deployment {dep['metadata']['name']} has no container {container!r} (containers: {names})."
    )


def patch_containers(kube: Kube, dep: Obj, dry_run: bool) -> None:
    """Send the full container list (a merge patch replaces lists; a strategic patch merges by name)."""
    containers = dep["spec"]["template"]["spec"]["containers"]
    kube.patch(
        "deployment",
        dep["metadata"]["name"],
        dep["metadata"]["namespace"],
        {"spec": {"template": {"spec": {"containers": containers}}}},
        dry_run=dry_run,
    )


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_set_image(
    deps: ToolDeps,
    deployment: str,
    namespace: str,
    container: str,
    image: str,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Set a container's image; to undo a bad rollout use k8s_rollback.
    Example: k8s_set_image(deployment="api", namespace="ns", container="api", image="api:1.4")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    c = container_of(dep, container)
    old = c.get("image")
    base = deployment_effect(dep, context)
    if old == image:
        return action_result(
            verb=f"set image {image}",
            effect=ActionEffect(**base, changed=False, pods_disrupted=0),
            dry_run=dry_run,
        )
    c["image"] = image
    patch_containers(kube, dep, dry_run)
    effect = ActionEffect(
        **base,
        pods_disrupted=rolling_disruption(dep),
        diff=f"deployment/{deployment} container {container} image: {old} -> {image}",
        undo=undo(
            "k8s_set_image",
            f"restore image {old}",
            deployment=deployment,
            namespace=namespace,
            container=container,
            image=old,
            context=context,
        ),
        expected_effect=f"rolling update to {image}",
    )
    return action_result(
        verb=f"set image {image}",
        effect=effect,
        dry_run=dry_run,
        data={"previous_image": old, "image": image},
    )


Quantity = str | None  # e.g. 500m, 1Gi; "" removes the field


@tool(risk="write", tags=("kubernetes", "action"))
@expected_errors
def k8s_set_resources(
    deps: ToolDeps,
    deployment: str,
    namespace: str,
    container: str,
    cpu_request: Quantity = None,
    cpu_limit: Quantity = None,
    memory_request: Quantity = None,
    memory_limit: Quantity = None,
    context: Context = None,
    *,
    dry_run: bool = False,
) -> ToolResult:
    """Set container CPU/memory requests/limits (500m, 1Gi; "" unsets).
    Example: k8s_set_resources(deployment="api", namespace="ns", container="api", memory_limit="1Gi")"""
    kube = Kube(deps, context)
    dep = kube.get("deployment", deployment, namespace)
    c = container_of(dep, container)
    wanted = {
        ("requests", "cpu"): cpu_request,
        ("limits", "cpu"): cpu_limit,
        ("requests", "memory"): memory_request,
        ("limits", "memory"): memory_limit,
    }
    res = c.setdefault("resources", {})
    before = {k: (res.get(k[0]) or {}).get(k[1]) for k in wanted}
    changes = {k: v for k, v in wanted.items() if v is not None and (v or None) != before[k]}
    base = deployment_effect(dep, context)
    if not changes:
        return action_result(
            verb="set resources",
            effect=ActionEffect(**base, changed=False, pods_disrupted=0),
            dry_run=dry_run,
        )
    for (section, name), value in changes.items():
        if value:
            res.setdefault(section, {})[name] = value
        else:
            res.get(section, {}).pop(name, None)
    patch_containers(kube, dep, dry_run)
    arg = {
        ("requests", "cpu"): "cpu_request",
        ("limits", "cpu"): "cpu_limit",
        ("requests", "memory"): "memory_request",
        ("limits", "memory"): "memory_limit",
    }
    effect = ActionEffect(
        **base,
        pods_disrupted=rolling_disruption(dep),
        diff="\n".join(
            f"container {container} {s}.{n}: {before[(s, n)] or '<unset>'} -> {v or '<unset>'}"
            for (s, n), v in changes.items()
        ),
        undo=undo(
            "k8s_set_resources",
            "restore the previous resources",
            deployment=deployment,
            namespace=namespace,
            container=container,
            context=context,
            **{arg[k]: before[k] or "" for k in changes},
        ),
        expected_effect="pods replaced with the new resources in a rolling update",
    )
    return action_result(verb="set resources", effect=effect, dry_run=dry_run)
