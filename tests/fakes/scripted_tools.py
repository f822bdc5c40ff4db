"""A tiny scripted cluster and real ``@tool`` functions over it, for graph tests.

The tools follow the contract exactly (names, arguments, ``ToolResult``, ``ActionEffect`` with an
undo), so the graph runs them the same way it runs the real ones. The cluster is one deployment
per service with an image history; an image listed in ``bad_images`` makes triage report a high
error rate (and a recent rollout), which a rollback fixes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.base import ActionEffect, Target, ToolResult, Undo, tool
from tools.registry import Registry


@dataclass
class Deployment:
    name: str
    namespace: str
    images: list[str]
    replicas: int = 3
    env: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        return self.images[-1]


@dataclass
class FakeCluster:
    deployments: dict[str, Deployment] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    bad_images: set[str] = field(default_factory=set)
    applied: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every real (non dry-run) change, in order."""
    worse_after_rollback: bool = False
    extra_findings: list[dict[str, Any]] = field(default_factory=list)
    """Findings triage reports on top of the deployments' own (a symptom that shows up later)."""

    def dep(self, namespace: str, name: str) -> Deployment | None:
        d = self.deployments.get(name)
        return d if d is not None and d.namespace == namespace else None


@dataclass
class FakeDeps:
    cluster: FakeCluster
    token_budget: int = 1500
    raw_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp()))

    def kube(self, context: str | None = None) -> Any:
        return self.cluster

    def prometheus(self) -> Any:
        return self.cluster

    def loki(self) -> Any:
        return self.cluster

    def journal(self) -> Any:
        return None


@tool(risk="read")
def k8s_list(
    deps: FakeDeps,
    kind: str,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    context: str | None = None,
) -> ToolResult:
    """List objects of a kind."""
    items = [
        {"kind": "Deployment", "name": d.name, "namespace": d.namespace, "labels": {"app": d.name}}
        for d in deps.cluster.deployments.values()
        if namespace in (None, d.namespace)
    ]
    text = "\n".join(f"{i['namespace']}/{i['name']}" for i in items)
    return ToolResult.ok(f"{len(items)} deployments\n{text}", items)


@tool(risk="read")
def k8s_get(
    deps: FakeDeps, kind: str, name: str, namespace: str | None = None, context: str | None = None
) -> ToolResult:
    """Get one object (deployments show their env; secrets their data)."""
    from tools.redact import redact_obj

    if kind.lower() == "secret":
        obj = {"kind": "Secret", "metadata": {"name": name}, "data": deps.cluster.secrets.get(name, {})}
        shown = redact_obj(obj)
        return ToolResult.ok(str(shown), shown)
    d = deps.cluster.dep(namespace or "", name)
    if d is None:
        return ToolResult.error(f"deployment {namespace}/{name} not found")
    env = [{"name": k, "value": v} for k, v in d.env.items()]
    shown = redact_obj({"kind": "Deployment", "name": d.name, "image": d.image, "env": env})
    return ToolResult.ok(str(shown), shown)


@tool(risk="read")
def k8s_rollout_history(
    deps: FakeDeps, deployment: str, namespace: str, context: str | None = None
) -> ToolResult:
    """Rollout history of a deployment."""
    d = deps.cluster.dep(namespace, deployment)
    if d is None:
        return ToolResult.error(f"deployment {namespace}/{deployment} not found")
    lines = [f"revision {i + 1}: {img}" for i, img in enumerate(d.images)]
    return ToolResult.ok("\n".join(lines), {"revisions": d.images})


@tool(risk="read")
def prometheus_query(deps: FakeDeps, query: str, time: str | None = None) -> ToolResult:
    """Instant PromQL query (the fake answers error ratios per bad deployment)."""
    bad = [d for d in deps.cluster.deployments.values() if d.image in deps.cluster.bad_images]
    if not bad:
        return ToolResult.no_data(f"no series for {query}", [])
    data = [{"metric": {"service": d.name}, "value": 0.42} for d in bad]
    return ToolResult.ok("\n".join(f"{{service={d.name}}} 0.42" for d in bad), data)


@tool(risk="read")
def prometheus_alerts(deps: FakeDeps, state: str = "firing") -> ToolResult:
    """Firing alerts."""
    bad = [d for d in deps.cluster.deployments.values() if d.image in deps.cluster.bad_images]
    data = [
        {"labels": {"alertname": "ServiceHighErrorRate", "namespace": d.namespace, "service": d.name}}
        for d in bad
    ]
    return ToolResult.ok(f"{len(data)} firing", data) if data else ToolResult.no_data("no alerts firing", [])


@tool(risk="read")
def triage(
    deps: FakeDeps,
    namespace: str,
    service: str | None = None,
    context: str | None = None,
    onset: str | None = None,
) -> ToolResult:
    """Run every analyzer for a namespace."""
    findings = []
    for d in deps.cluster.deployments.values():
        if d.namespace != namespace or (service and d.name != service):
            continue
        if len(d.images) > 1:
            findings.append(
                {
                    "kind": "recent_rollout",
                    "target": f"Deployment/{namespace}/{d.name}",
                    "severity": "info",
                    "summary": f"{d.name} rolled out {d.image}",
                    "evidence": [],
                    "data": {"deployment": d.name, "revision": len(d.images), "previous_image": d.images[-2]},
                }
            )
        if d.image in deps.cluster.bad_images:
            findings.append(
                {
                    "kind": "high_error_rate",
                    "target": f"Deployment/{namespace}/{d.name}",
                    "severity": "critical",
                    "summary": f"{d.name} answers 42% 5xx",
                    "evidence": [],
                    "data": {"deployment": d.name},
                }
            )
        if deps.cluster.worse_after_rollback and d.image.endswith("-rolledback"):
            findings.append(
                {
                    "kind": "crash_loop",
                    "target": f"Deployment/{namespace}/{d.name}",
                    "severity": "critical",
                    "summary": f"{d.name} crash-loops",
                    "evidence": [],
                    "data": {"deployment": d.name},
                }
            )
    findings += [
        f for f in deps.cluster.extra_findings if not service or f["data"].get("deployment") == service
    ]
    text = (
        "\n".join(f"[{f['severity']}] {f['kind']} {f['target']}: {f['summary']}" for f in findings)
        or "no findings"
    )
    return ToolResult.ok(text, findings)


def _effect(d: Deployment, new_image: str, undo_image: str) -> ActionEffect:
    return ActionEffect(
        target=Target(kind="Deployment", name=d.name, namespace=d.namespace, labels={"app": d.name}),
        diff=f"image: {d.image} -> {new_image}",
        changed=new_image != d.image,
        undo=Undo(
            tool="k8s_set_image",
            args={"deployment": d.name, "namespace": d.namespace, "container": d.name, "image": undo_image},
        ),
        pods_total=d.replicas,
        pods_disrupted=1,
        expected_effect=f"{d.name} runs {new_image}",
    )


@tool(risk="write")
def k8s_rollback(
    deps: FakeDeps,
    deployment: str,
    namespace: str,
    to_revision: int | None = None,
    context: str | None = None,
    *,
    dry_run: bool,
) -> ToolResult:
    """Roll a deployment back to its previous revision."""
    d = deps.cluster.dep(namespace, deployment)
    if d is None:
        return ToolResult.error(f"deployment {namespace}/{deployment} not found")
    if len(d.images) < 2:
        return ToolResult.error(f"deployment {namespace}/{deployment} has no previous revision")
    target = d.images[-2] + ("-rolledback" if deps.cluster.worse_after_rollback else "")
    effect = _effect(d, target, d.image)
    if dry_run:
        return ToolResult.ok(f"(dry run) would roll {deployment} back: {effect.diff}", effect=effect)
    deps.cluster.applied.append(("k8s_rollback", {"deployment": deployment, "namespace": namespace}))
    d.images.append(target)
    return ToolResult.ok(f"rolled {deployment} back to {target}", effect=effect)


@tool(risk="write")
def k8s_set_image(
    deps: FakeDeps,
    deployment: str,
    namespace: str,
    container: str,
    image: str,
    context: str | None = None,
    *,
    dry_run: bool,
) -> ToolResult:
    """Set a container's image."""
    d = deps.cluster.dep(namespace, deployment)
    if d is None:
        return ToolResult.error(f"deployment {namespace}/{deployment} not found")
    effect = _effect(d, image, d.image)
    if dry_run:
        return ToolResult.ok(f"(dry run) {effect.diff}", effect=effect)
    deps.cluster.applied.append(("k8s_set_image", {"deployment": deployment, "image": image}))
    d.images.append(image)
    return ToolResult.ok(f"set {deployment} image to {image}", effect=effect)


@tool(risk="write")
def k8s_scale(
    deps: FakeDeps,
    deployment: str,
    namespace: str,
    replicas: int,
    context: str | None = None,
    *,
    dry_run: bool,
) -> ToolResult:
    """Scale a deployment."""
    d = deps.cluster.dep(namespace, deployment)
    if d is None:
        return ToolResult.error(f"deployment {namespace}/{deployment} not found")
    effect = ActionEffect(
        target=Target(kind="Deployment", name=d.name, namespace=namespace),
        diff=f"replicas: {d.replicas} -> {replicas}",
        replicas_before=d.replicas,
        replicas_after=replicas,
        pods_total=d.replicas,
        pods_disrupted=0,
        undo=Undo(
            tool="k8s_scale", args={"deployment": d.name, "namespace": namespace, "replicas": d.replicas}
        ),
    )
    if dry_run:
        return ToolResult.ok(f"(dry run) {effect.diff}", effect=effect)
    deps.cluster.applied.append(("k8s_scale", {"deployment": deployment, "replicas": replicas}))
    d.replicas = replicas
    return ToolResult.ok(f"scaled {deployment} to {replicas}", effect=effect)


def fake_registry() -> Registry:
    return Registry(
        [
            k8s_list,
            k8s_get,
            k8s_rollout_history,
            prometheus_query,
            prometheus_alerts,
            triage,
            k8s_rollback,
            k8s_set_image,
            k8s_scale,
        ]
    )


def shop_cluster() -> FakeCluster:
    """Namespace shop: checkout rolled out a bad image (v2) over a good one (v1); cart is fine."""
    return FakeCluster(
        deployments={
            "checkout": Deployment(
                "checkout",
                "shop",
                ["shop/checkout:v1", "shop/checkout:v2"],
                env={"DB_PASSWORD": "hunter2-db-pass", "LOG_LEVEL": "info"},
            ),
            "cart": Deployment("cart", "shop", ["shop/cart:v7"]),
        },
        secrets={"checkout-db": {"password": "c3VwZXJzZWNyZXQtdmFsdWU="}},
        bad_images={"shop/checkout:v2"},
    )
