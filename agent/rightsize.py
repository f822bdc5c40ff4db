"""Right-sizing for the CLI and the API: recommendations with their cost, and applying one through
the guard (dry run, policy, audit, undo) exactly as the graph's act node would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.guard import ProposedAction, effect_ref, guard_action
from agent.slo_budget import error_budget_for
from tools.kubernetes.client import Kube
from tools.kubernetes.usage import parse_quantity
from tools.rightsize.collect import namespace_usage
from tools.rightsize.cost import Prices, by_namespace, container_cost, idle_capacity
from tools.rightsize.model import recommend, set_resources_args

ACTION = "k8s_set_resources"


def _idle(tool_deps: Any, usages: list[Any], prices: Prices) -> dict[str, float] | None:
    try:
        nodes = Kube(tool_deps, None).list("node")
    except Exception:
        return None
    alloc = {"cpu": 0.0, "memory": 0.0}
    for n in nodes:
        a = n.get("status", {}).get("allocatable") or {}
        alloc["cpu"] += parse_quantity(a.get("cpu")) or 0.0
        alloc["memory"] += parse_quantity(a.get("memory")) or 0.0
    requested = {
        "cpu": sum((u.cpu_request or 0.0) * u.replicas for u in usages),
        "memory": sum((u.memory_request or 0.0) * u.replicas for u in usages),
    }
    return idle_capacity(alloc, requested, prices)


def recommendations(settings: Any, tool_deps: Any, namespace: str | None, hours: float) -> dict[str, Any]:
    """Every container's recommendation, its cost and savings, namespace totals and idle capacity."""
    prices = Prices(settings.cost_cpu_hour, settings.cost_gib_hour)
    usages = namespace_usage(tool_deps, namespace, hours)
    rows = []
    costs = []
    for u in usages:
        rec = recommend(u)
        cost = container_cost(u, prices, rec)
        costs.append(cost)
        row = rec.as_dict() | {"cost": cost.as_dict()}
        if rec.status == "ok":
            row["action"] = {"tool": ACTION, "args": set_resources_args(rec)}
        rows.append(row)
    return {
        "namespace": namespace,
        "history_hours": hours,
        "prices": {"cpu_hour": prices.cpu_hour, "gib_hour": prices.gib_hour},
        "workloads": rows,
        "namespaces": by_namespace(costs),
        "idle": _idle(tool_deps, usages, prices) if namespace is None else None,
    }


def apply_through_guard(
    deps: Any,
    args: dict[str, Any],
    approver: str,
    *,
    approved: bool,
    action: str = ACTION,
    reason: str = "right-sizing from usage history",
) -> dict[str, Any]:
    """Dry-run the action (``k8s_set_resources`` by default), ask the guard, and apply when it allows
    (or a human approved what needs approval); every step is audited. Returns what happened."""
    tool = deps.tools.get(action)
    dry = tool.invoke(deps.tool_deps, args, dry_run=True) if tool else None
    if tool is None or dry is None or dry.status == "error":
        return {"status": "failed", "text": dry.text if dry else f"{action} is not registered"}
    effect = dry.effect
    if effect is not None and not effect.changed:
        return {"status": "noop", "text": dry.text}
    now = deps.now()
    verdict = guard_action(
        ProposedAction(tool=action, args=args, reason=reason),
        tool,
        effect,
        deps.policy,
        deps.audit.action_history(now - timedelta(hours=24)),
        now,
        error_budget_for(deps, effect.target if effect else None),
    )
    decision = verdict.decision
    reasons = list(verdict.reasons)
    if decision == "needs_approval" and approved:
        if deps.policy.may_approve(approver):
            decision = "allow"
        else:  # --yes is an approval like any other: the policy's approver allow-list applies
            reasons.append(f"{approver} is not on the policy's approver allow-list")
    deps.audit.append(
        "decision",
        actor=approver,
        data={"tool": action, "args": args, "decision": decision, "reasons": reasons, "reason": reason},
    )
    if decision != "allow":
        return {"status": decision, "reasons": reasons, "diff": effect.diff if effect else ""}
    result = tool.invoke(deps.tool_deps, args, dry_run=False)
    if result.status == "error":
        return {"status": "failed", "text": result.text}
    applied = result.effect or effect
    deps.audit.append(
        "action_applied",
        actor=approver if verdict.decision == "needs_approval" else "policy:auto",
        data={
            "tool": action,
            "args": args,
            "target_ref": effect_ref(applied),
            "effect": applied.model_dump(mode="json") if applied else None,
            "result": result.text[:400],
        },
    )
    return {"status": "applied", "text": result.text, "reasons": verdict.reasons}
