"""The guard: the policy applied to one proposed action, in code.

Fails closed. The action's risk comes from the registered tool, never from the model's arguments;
an action the guard cannot classify (unknown target, no dry-run result) needs a human; anything a
guardrail forbids is denied with the reason, which goes back to the reasoner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.policy import Autonomy, Policy
from tools.base import ActionEffect, Target, Tool

Decision = Literal["allow", "needs_approval", "deny"]


class ProposedAction(BaseModel):
    """A change the reasoner wants to make."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""


class ErrorBudget(BaseModel):
    """The budget left of the SLO that covers an action's target (the lowest, if several do)."""

    slo: str = Field(description="The SLO, e.g. 'predictor-requests-availability (namespace=prod)'.")
    remaining: float = Field(description="Share of the error budget left over its period (< 0: overspent).")


class Verdict(BaseModel):
    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    autonomy: Autonomy | None = None
    risk: str | None = None

    def explain(self) -> str:
        return f"{self.decision}: " + "; ".join(self.reasons)


@dataclass(frozen=True)
class ActionRecord:
    """An action that was applied, as the audit log remembers it (for cooldown and rate limits)."""

    tool: str
    target_key: str
    at: datetime


def target_key(kind: str, namespace: str | None, name: str, context: str | None = None) -> str:
    return f"{context or ''}/{kind}/{namespace or ''}/{name}"


def effect_ref(effect: ActionEffect | None) -> str:
    """The audit log's ``target_ref`` of what an applied action changed ("" when it reported nothing)."""
    if effect is None:
        return ""
    t = effect.target
    return target_key(t.kind, t.namespace, t.name, t.context)


def target_from_args(args: dict[str, Any]) -> Target:
    """The target of an action without a dry-run effect, from its arguments (kind a best guess)."""
    name = args.get("deployment") or args.get("name") or args.get("pod") or args.get("node") or "?"
    kind = "Deployment" if "deployment" in args else ("Node" if "node" in args else "Unknown")
    return Target(kind=kind, name=str(name), namespace=args.get("namespace"), context=args.get("context"))


def _arg_namespace(args: dict[str, Any]) -> str | None:
    ns = args.get("namespace")
    return str(ns) if ns else None


def guard_action(
    action: ProposedAction,
    tool: Tool | None,
    effect: ActionEffect | None,
    policy: Policy,
    history: Sequence[ActionRecord],
    now: datetime,
    budget: ErrorBudget | None = None,
) -> Verdict:
    """Decide whether ``action`` may run alone, needs a human, or must not run.

    ``budget`` is the error budget left of the target's service (None: no SLO covers it, or it could
    not be read); a spent budget takes auto mode down to approve for all but the exempt actions."""
    if tool is None:
        return Verdict(decision="deny", reasons=[f"unknown tool {action.tool!r}: nothing can execute it"])
    if tool.risk == "read":
        return Verdict(decision="allow", reasons=["read-only tool"], risk="read")

    g = policy.guardrails
    target = effect.target if effect is not None else None
    namespace = target.namespace if target else _arg_namespace(action.args)
    context = target.context if target else action.args.get("context")
    name = target.name if target else str(action.args.get("name") or action.args.get("deployment") or "")
    namespaces = {n for n in (namespace, _arg_namespace(action.args)) if n}
    autonomy = policy.autonomy_for(context, namespace)
    deny: list[str] = []
    ask: list[str] = []

    def verdict(decision: Decision, reasons: list[str]) -> Verdict:
        return Verdict(decision=decision, reasons=reasons, autonomy=autonomy, risk=tool.risk)

    if autonomy == "observe":
        deny.append(f"namespace {namespace or '?'} is in observe mode: the agent only reads there")
    elif autonomy == "suggest":
        deny.append(
            f"namespace {namespace or '?'} is in suggest mode: propose the change, a human applies it"
        )
    if g.allowed_actions and tool.name not in g.allowed_actions:
        deny.append(f"{tool.name} is not on the policy's action allow-list ({', '.join(g.allowed_actions)})")
    if any(policy.is_forbidden(tool.name, ns, name) for ns in (namespaces or {""})):
        deny.append(f"{tool.name} on {namespace}/{name} is forbidden by the policy")
    for ns in sorted(namespaces):
        if ns in g.protected_namespaces:
            deny.append(f"namespace {ns} is protected")
    if target is not None:
        for key, value in g.protected_labels.items():
            if target.labels.get(key) == value:
                deny.append(f"{target.kind} {target.name} carries the protected label {key}={value}")
    freeze = policy.active_freeze(now)
    if freeze is not None:
        deny.append(f"change freeze in force: {freeze.reason}")
    deny.extend(_replica_problems(effect, policy))
    deny.extend(rate_problems(tool.name, effect, policy, history, now))

    if effect is not None and effect.pods_total and effect.pods_disrupted is not None:
        share = effect.pods_disrupted / effect.pods_total
        if share > g.blast_radius.max_fraction:
            deny.append(
                f"blast radius {effect.pods_disrupted}/{effect.pods_total} pods ({share:.0%}) exceeds the "
                f"policy's maximum of {g.blast_radius.max_fraction:.0%}"
            )
        elif share > g.blast_radius.auto_max_fraction:
            ask.append(
                f"blast radius {effect.pods_disrupted}/{effect.pods_total} pods ({share:.0%}) is above "
                f"{g.blast_radius.auto_max_fraction:.0%}, the most an automatic action may disrupt"
            )
    if deny:
        return verdict("deny", deny)

    if effect is None:
        ask.append("the dry run gave no target or effect, so the guard cannot classify it: a human decides")
    if tool.risk == "destructive":
        ask.append(f"{tool.name} is destructive: always needs a human")
    if autonomy != "auto":
        ask.append(f"namespace {namespace} is in {autonomy} mode: changes wait for a human")
    elif tool.name not in g.auto_actions:
        ask.append(f"{tool.name} is not among the actions allowed to run alone ({', '.join(g.auto_actions)})")
    elif (
        budget is not None
        and budget.remaining <= g.error_budget.min_remaining
        and tool.name not in g.error_budget.exempt_actions
    ):
        ask.append(
            f"the error budget of {budget.slo} is spent ({budget.remaining:.0%} left): {tool.name} waits "
            f"for a human until it recovers (only {', '.join(g.error_budget.exempt_actions) or 'nothing'} may run alone)"
        )
    if ask:
        return verdict("needs_approval", ask)
    return verdict(
        "allow", [f"auto mode in {namespace}; {tool.name} is allowed to run alone within guardrails"]
    )


def _replica_problems(effect: ActionEffect | None, policy: Policy) -> list[str]:
    if effect is None or effect.replicas_after is None:
        return []
    bounds = policy.guardrails.replicas
    out = []
    after = effect.replicas_after
    if not bounds.min <= after <= bounds.max:
        out.append(f"{after} replicas is outside the policy's bounds [{bounds.min}, {bounds.max}]")
    if effect.replicas_before is not None and abs(after - effect.replicas_before) > bounds.max_step:
        out.append(
            f"changing replicas {effect.replicas_before} -> {after} exceeds the policy's max step of {bounds.max_step}"
        )
    return out


def rate_problems(
    tool: str, effect: ActionEffect | None, policy: Policy, history: Sequence[ActionRecord], now: datetime
) -> list[str]:
    """The cooldown on a target and the hourly limit. act asks again right before applying: another
    run may have changed the same target after this action was guarded (while it waited for a human)."""
    g = policy.guardrails
    out = []
    hour_ago = now - timedelta(hours=1)
    recent = [h for h in history if h.at >= hour_ago]
    if len(recent) >= g.max_actions_per_hour:
        out.append(
            f"{len(recent)} actions in the last hour reaches the policy's limit of {g.max_actions_per_hour}"
        )
    if effect is not None and g.cooldown_s:
        key = target_key(
            effect.target.kind, effect.target.namespace, effect.target.name, effect.target.context
        )
        for h in history:
            age = (now - h.at).total_seconds()
            if h.tool == tool and h.target_key == key and 0 <= age < g.cooldown_s:
                out.append(
                    f"cooldown: {tool} on {effect.target.kind} {effect.target.namespace}/{effect.target.name} "
                    f"ran {age:.0f} s ago; the policy wants {g.cooldown_s} s between them"
                )
                break
    return out
