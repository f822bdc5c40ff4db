"""Where a posture run gets its objects: manifest files (plain YAML, multi-document) or the live
cluster through the agent's Kubernetes client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools.errors import ToolError
from tools.kubernetes.client import Kube
from tools.posture.model import Inventory, Obj, Source

LIVE_KINDS = (
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Service", "NetworkPolicy",
    "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceAccount", "Role", "RoleBinding",
)  # fmt: skip
CLUSTER_KINDS = ("ClusterRole", "ClusterRoleBinding")


def load_manifests(root: Path) -> Inventory:
    """Every object of every ``*.yaml``/``*.yml`` under ``root`` (``List`` kinds unpacked), with its
    file and the line its document starts on."""
    if not root.exists():
        raise ToolError(f"manifest directory {root} does not exist; pass --manifests DIR of YAML files")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise ToolError(f"no *.yaml or *.yml files under {root}")
    inv = Inventory()
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise ToolError(f"{path} is not valid YAML: {exc}") from exc
        for node in nodes:
            if node is None:
                continue
            doc: Any = yaml.load(yaml.serialize(node), Loader=yaml.SafeLoader)
            items = doc.get("items", []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
            for item in items:
                if isinstance(item, dict) and item.get("kind"):
                    inv.add(item, Source(str(path), node.start_mark.line + 1))
    return inv


def load_live(deps: Any, namespace: str | None, context: str | None = None) -> Inventory:
    """The objects posture looks at, read from the cluster. Never reads Secrets. A kind the API
    does not serve or the agent may not list becomes a note, not a failure."""
    kube = Kube(deps, context)
    inv = Inventory(live=True)
    kinds: tuple[str, ...] = LIVE_KINDS + (CLUSTER_KINDS if namespace is None else ())
    for kind in kinds:
        try:
            items: list[Obj] = kube.list(kind, namespace if kind not in CLUSTER_KINDS else None)
        except ToolError as exc:
            inv.notes.append(f"{kind}: not checked ({exc})")
            continue
        inv.extend(items)
    return inv
