"""The seeded platform as a directory of manifests: the desired state the agent's drift check reads.

``sandbox/manifests/`` is generated from :func:`sandbox.platform.manifests` (``python -m
sandbox.desired`` rewrites it; a test fails when it is out of date), one object per file, under a
folder per namespace (``_cluster`` for namespaces): ``<namespace>/<kind>-<name>.yaml``. The files
hold what a person would have written, not what the server keeps: no ``status``, no server-assigned
``clusterIP``, no ``last-applied-configuration`` annotation, and no ``spec.replicas`` on a
deployment an HPA scales (the HPA owns it). ``sandbox up`` points ``DEVOPS_AGENT_DESIRED_STATE``
here, so a hand edit of any seeded object is drift.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from sandbox.platform import manifests

Obj = dict[str, Any]
MANIFESTS_DIR = Path(__file__).parent / "manifests"
_DECLARED = ("namespaces", "configmaps", "secrets", "services", "deployments", "horizontalpodautoscalers")
_SYSTEM_NAMESPACES = ("default", "kube-system")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def declared(obj: Obj, scaled_by_hpa: set[tuple[str, str]]) -> Obj:
    """``obj`` as its manifest declares it (a copy)."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != _LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    spec = out.get("spec") or {}
    if out["kind"] == "Service":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if out["kind"] == "Deployment" and (meta.get("namespace"), meta["name"]) in scaled_by_hpa:
        spec.pop("replicas", None)
    return out


def rendered() -> dict[str, str]:
    """Relative file path -> YAML text, for every declared object of the platform."""
    objects = manifests()
    scaled = {
        (h["metadata"]["namespace"], h["spec"]["scaleTargetRef"]["name"])
        for h in objects["horizontalpodautoscalers"]
    }
    files: dict[str, str] = {}
    for resource in _DECLARED:
        for obj in objects[resource]:
            meta = obj["metadata"]
            if resource == "namespaces" and meta["name"] in _SYSTEM_NAMESPACES:
                continue
            folder = meta.get("namespace") or "_cluster"
            path = f"{folder}/{obj['kind'].lower()}-{meta['name']}.yaml"
            files[path] = yaml.safe_dump(declared(obj, scaled), sort_keys=False)
    return files


def write(directory: Path = MANIFESTS_DIR) -> list[Path]:
    """Write the manifests under ``directory`` (stale files there are removed); returns the files."""
    wanted = rendered()
    for old in directory.glob("*/*.yaml"):
        if str(old.relative_to(directory)) not in wanted:
            old.unlink()
    written = []
    for rel, text in wanted.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else MANIFESTS_DIR
    print(f"wrote {len(write(target))} manifests under {target}")
