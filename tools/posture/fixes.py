"""Which findings have a fix safe to automate, as the guarded action that applies it.

Only two: a PodDisruptionBudget for a replicated Deployment (``k8s_set_pdb``) and pinning a
Deployment's image to the digest its running pods report (``k8s_pin_image_digest``). Both are
additive and reversible; everything else (security contexts, RBAC, probes) changes how the
application runs and goes to the report for a human.
"""

from __future__ import annotations

from typing import Any

from tools.posture.model import Finding


def proposals(findings: list[Finding]) -> list[dict[str, Any]]:
    """``{"tool", "args", "reason", "finding"}`` for each fixable finding on a live Deployment."""
    out: list[dict[str, Any]] = []
    for f in findings:
        if f.check.fix_action is None or f.obj.get("kind") != "Deployment":
            continue
        meta = f.obj.get("metadata") or {}
        base = {"deployment": meta.get("name"), "namespace": f.namespace}
        reason = f"posture {f.check.id}: {f.check.title.lower()}"
        if f.check.fix_action == "k8s_set_pdb":
            out.append({"tool": "k8s_set_pdb", "args": base, "reason": reason, "finding": f.check.id})
            continue
        spec = (f.obj.get("spec") or {}).get("template", {}).get("spec") or {}
        for c in spec.get("containers") or []:
            if "@" not in str(c.get("image") or ""):
                out.append(
                    {
                        "tool": f.check.fix_action,
                        "args": base | {"container": c.get("name")},
                        "reason": reason,
                        "finding": f.check.id,
                    }
                )
    return out
