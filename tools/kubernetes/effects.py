"""Building an action's :class:`~tools.base.ActionEffect`: target, diff, blast radius, undo."""

from __future__ import annotations

import difflib
import math
from typing import Any

from tools.base import ActionEffect, Target, ToolResult, Undo
from tools.kubernetes.client import Obj
from tools.kubernetes.shape import to_yaml
from tools.redact import redact_obj, redact_text


def target_of(obj: Obj, kind: str, context: str | None) -> Target:
    meta = obj.get("metadata", {})
    return Target(
        kind=kind,
        name=meta.get("name", ""),
        namespace=meta.get("namespace"),
        context=context,
        labels=meta.get("labels") or {},
    )


def yaml_diff(before: Any, after: Any, label: str) -> str:
    """A unified diff of two values rendered as YAML (redacted), or '' when they mean the same.

    Both sides are normalized first (``tools.journal.normalize.canonical``): keys sorted, defaulted
    empties (``securityContext: {}``) dropped, named list items (containers, env, ports) in key order,
    so a reorder or a defaulted empty is not shown as a change.
    """
    from tools.journal.normalize import canonical  # lazy: tools.journal imports this package

    a = to_yaml(redact_obj(canonical(before))).splitlines()
    b = to_yaml(redact_obj(canonical(after))).splitlines()
    lines = difflib.unified_diff(a, b, f"{label} (before)", f"{label} (after)", n=1, lineterm="")
    return redact_text("\n".join(lines))


def rolling_disruption(dep: Obj) -> int:
    """Pods a rolling update takes down at once: maxUnavailable (default 25%, rounded down, at least 1)."""
    replicas = int(dep.get("spec", {}).get("replicas", 1) or 0)
    strategy = dep.get("spec", {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return replicas
    raw = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(raw, str) and raw.endswith("%"):
        value = math.floor(replicas * int(raw[:-1]) / 100)
    else:
        value = int(raw)
    return min(max(value, 1), replicas) if replicas else 0


def action_result(
    *,
    verb: str,
    effect: ActionEffect,
    dry_run: bool,
    data: dict[str, Any] | None = None,
) -> ToolResult:
    """The result text: what was (or would be) done, the diff, the undo."""
    t = effect.target
    where = f"{t.kind} {t.namespace + '/' if t.namespace else ''}{t.name}"
    if not effect.changed:
        text = f"no change: {where} is already in the requested state ({verb})."
    else:
        mode = "dry run (server-side, nothing changed)" if dry_run else "applied"
        text = f"{mode}: {verb} on {where}."
        if effect.diff:
            text += f"\n{effect.diff}"
        if effect.expected_effect:
            text += f"\nexpected: {effect.expected_effect}"
        if effect.undo:
            text += (
                f"\nundo: {effect.undo.tool}({', '.join(f'{k}={v!r}' for k, v in effect.undo.args.items())})"
            )
    return ToolResult.ok(
        text, data={"dry_run": dry_run, "changed": effect.changed, **(data or {})}, effect=effect
    )


def undo(tool: str, description: str, **args: Any) -> Undo:
    return Undo(tool=tool, args={k: v for k, v in args.items() if v is not None}, description=description)
