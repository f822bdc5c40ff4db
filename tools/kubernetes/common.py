"""Argument types shared by the Kubernetes tools, and small helpers over the client."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from tools.errors import ToolError
from tools.kubernetes.client import ALIASES, Kube, Obj

KindName = Literal[
    "pod",
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "service",
    "endpoints",
    "configmap",
    "secret",
    "hpa",
    "node",
]


def _normalize_kind(value: Any) -> Any:
    """Accept 'Deployment', 'deploy', 'pods', 'HorizontalPodAutoscaler' for the Literal."""
    if not isinstance(value, str):
        return value
    key = value.strip().lower()
    key = ALIASES.get(key, key)
    return "hpa" if key == "horizontalpodautoscaler" else key


Kind = Annotated[KindName, BeforeValidator(_normalize_kind)]
Context = str | None  # kubeconfig context (cluster); None = the default one


def deployment_pods(kube: Kube, deployment: Obj) -> list[Obj]:
    """The pods a deployment's selector matches."""
    selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
    ns = deployment["metadata"].get("namespace")
    return kube.list("pod", ns, label_selector=label_selector or None)


def find_hpa(kube: Kube, namespace: str, deployment: str) -> Obj | None:
    """The HPA whose scale target is the deployment, if any (None also when HPAs are not served)."""
    try:
        hpas = kube.list("hpa", namespace)
    except ToolError:  # an API without autoscaling/v2 simply has no HPAs for us
        return None
    for hpa in hpas:
        ref = hpa.get("spec", {}).get("scaleTargetRef", {})
        if ref.get("kind") == "Deployment" and ref.get("name") == deployment:
            return hpa
    return None


def config_refs(template: Obj) -> tuple[set[str], set[str]]:
    """(configmaps, secrets) a pod template reads through volumes, envFrom or env valueFrom."""
    spec = template.get("spec", {})
    cms = {v["configMap"]["name"] for v in spec.get("volumes") or [] if v.get("configMap")}
    secrets = {
        v["secret"]["secretName"]
        for v in spec.get("volumes") or []
        if (v.get("secret") or {}).get("secretName")
    }
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for e in c.get("envFrom") or []:
            cms |= {e["configMapRef"]["name"]} if e.get("configMapRef") else set()
            secrets |= {e["secretRef"]["name"]} if e.get("secretRef") else set()
        for e in c.get("env") or []:
            ref = e.get("valueFrom") or {}
            cms |= {ref["configMapKeyRef"]["name"]} if ref.get("configMapKeyRef") else set()
            secrets |= {ref["secretKeyRef"]["name"]} if ref.get("secretKeyRef") else set()
    return cms, secrets


def config_keys_read(template: Obj) -> dict[tuple[str, str], frozenset[str] | None]:
    """(kind, name) → the keys a pod template reads of each ConfigMap and Secret; ``None`` when it
    reads every key (``envFrom``, a volume without ``items``). A change to a key nobody reads changes
    no pod's behaviour."""
    spec = template.get("spec") or {}
    out: dict[tuple[str, str], frozenset[str] | None] = {}

    def add(kind: str, name: Any, keys: frozenset[str] | None) -> None:
        if not name:
            return
        ref = (kind, str(name))
        if ref not in out:
            out[ref] = keys
        else:
            held = out[ref]
            out[ref] = None if held is None or keys is None else held | keys

    def items(source: Obj) -> frozenset[str] | None:
        listed = source.get("items")
        return frozenset(str(i.get("key")) for i in listed) if listed else None

    volumes = list(spec.get("volumes") or [])
    for vol in volumes:
        if vol.get("configMap"):
            add("ConfigMap", vol["configMap"].get("name"), items(vol["configMap"]))
        if vol.get("secret"):
            add("Secret", vol["secret"].get("secretName"), items(vol["secret"]))
        for src in (vol.get("projected") or {}).get("sources") or []:
            if src.get("configMap"):
                add("ConfigMap", src["configMap"].get("name"), items(src["configMap"]))
            if src.get("secret"):
                add("Secret", src["secret"].get("name"), items(src["secret"]))
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for e in c.get("envFrom") or []:
            if e.get("configMapRef"):
                add("ConfigMap", e["configMapRef"].get("name"), None)
            if e.get("secretRef"):
                add("Secret", e["secretRef"].get("name"), None)
        for e in c.get("env") or []:
            ref = e.get("valueFrom") or {}
            if ref.get("configMapKeyRef"):
                add(
                    "ConfigMap",
                    ref["configMapKeyRef"].get("name"),
                    frozenset([str(ref["configMapKeyRef"].get("key"))]),
                )
            if ref.get("secretKeyRef"):
                add(
                    "Secret",
                    ref["secretKeyRef"].get("name"),
                    frozenset([str(ref["secretKeyRef"].get("key"))]),
                )
    return out
