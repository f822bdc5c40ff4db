"""guard: dry-run the proposed change, then apply the policy to it (``agent.guard.guard_action``).

The dry run gives the guard what it needs (target, labels, replicas, pods disrupted) and the human
the diff. The risk comes from the registered tool, never from the model. A denied change, or one
whose dry run failed, goes back to the reasoner with the reason; a change a human already approved
with edited arguments only needs to pass the guardrails again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from agent import guard
from agent.approvals import ApprovalRequest
from agent.nodes.common import Ctx, add_action, answer_call, current_action, emit, incident_id, run_tool
from agent.slo_budget import error_budget_for
from agent.state import AgentState
from tools.base import ActionEffect


def guard_proposed_action(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Dry-run and judge the proposal; route to reasoning, approval or action."""
    deps = runtime.context
    proposed = dict(state["proposed"] or {})
    action = current_action(state) or {}
    result, entry = run_tool(
        runtime, state, proposed["tool"], proposed["args"], dry_run=True, purpose="dry_run"
    )
    evidence = [*state.get("evidence", []), entry]
    if result.status == "error":
        return _refuse(state, proposed, action, evidence, "failed", f"the dry run failed: {result.text}")
    effect = result.effect
    if effect is not None and not effect.changed:
        return _already_done(state, runtime, proposed, action, evidence, result.text, effect)
    now = deps.now()
    verdict = guard.guard_action(
        guard.ProposedAction(
            tool=proposed["tool"], args=proposed["args"], reason=str(proposed.get("reason", ""))
        ),
        deps.tools.get(proposed["tool"]),
        effect,
        deps.policy,
        deps.audit.action_history(now - timedelta(hours=24)),
        now,
        error_budget_for(deps, effect.target if effect else None),
    )
    approved_by = proposed.get("approved_by")
    decision = verdict.decision
    if decision == "needs_approval" and approved_by:
        decision = "allow"  # a human approved exactly these (edited) arguments
    deps.audit.append(
        "decision",
        incident_id=incident_id(state),
        data={
            "tool": proposed["tool"],
            "args": proposed["args"],
            "decision": decision,
            "reasons": verdict.reasons,
            "autonomy": verdict.autonomy,
            "risk": verdict.risk,
            "approved_by": approved_by,
            "reason": str(proposed.get("reason", ""))[:300],  # why it was proposed (report changes)
        },
    )
    emit(runtime, "verdict", tool=proposed["tool"], decision=decision, reasons=verdict.reasons)
    dry = {
        "status": result.status,
        "text": result.text,
        "effect": effect.model_dump(mode="json") if effect else None,
    }
    record = {**action, "verdict": verdict.model_dump(mode="json"), "diff": effect.diff if effect else ""}
    base = {
        "evidence": evidence,
        "dry_run": dry,
        "verdict": {**verdict.model_dump(mode="json"), "decision": decision},
    }
    if decision == "deny":
        out = _refuse(
            state, proposed, record, evidence, "denied", "the policy denied it: " + "; ".join(verdict.reasons)
        )
        return {**out, "dry_run": dry, "verdict": base["verdict"]}
    if decision == "needs_approval":
        request = _approval_request(state, runtime, proposed, effect, verdict.reasons, verdict.risk)
        record["approval_id"] = request["id"]
        return {
            **base,
            "approval": request,
            "actions": add_action(state, record),
            "phase": "awaiting_approval",
        }
    record["approver"] = approved_by or "policy:auto"
    return {**base, "actions": add_action(state, record), "phase": "acting"}


def _already_done(
    state: AgentState,
    runtime: Ctx,
    proposed: dict[str, Any],
    action: dict[str, Any],
    evidence: list[dict[str, Any]],
    text: str,
    effect: ActionEffect,
) -> dict[str, Any]:
    """The target is already in the requested state: nothing to approve or apply; verify the signals."""
    note = "already in the requested state: nothing was applied"
    runtime.context.audit.append(
        "decision",
        incident_id=incident_id(state),
        data={
            "tool": proposed["tool"],
            "args": proposed["args"],
            "decision": "noop",
            "reasons": [note, text[:200]],
        },
    )
    emit(runtime, "verdict", tool=proposed["tool"], decision="noop", reasons=[note])
    record = {
        **action,
        "status": "noop",
        "note": note,
        "learned": True,
        "effect": effect.model_dump(mode="json"),
    }
    return {"evidence": evidence, "actions": add_action(state, record), "phase": "verifying"}


def _refuse(
    state: AgentState,
    proposed: dict[str, Any],
    record: dict[str, Any],
    evidence: list[dict[str, Any]],
    status: str,
    why: str,
) -> dict[str, Any]:
    """Back to the reasoner, told why; the action is recorded as not run."""
    outcome = "denied" if status == "denied" else "failed"
    record = {**record, "status": status, "outcome": outcome, "note": why}
    messages = answer_call(list(state.get("messages", [])), proposed.get("call_id"), f"not executed: {why}")
    return {
        "evidence": evidence,
        "messages": messages,
        "actions": add_action(state, record),
        "proposed": None,
        "notes": [*state.get("notes", []), f"{proposed['tool']} {proposed['args']}: {why}"],
        "phase": "investigating",
    }


def _approval_request(
    state: AgentState,
    runtime: Ctx,
    proposed: dict[str, Any],
    effect: ActionEffect | None,
    reasons: list[str],
    risk: str | None,
) -> dict[str, Any]:
    deps = runtime.context
    target = effect.target if effect else guard.target_from_args(proposed["args"])
    ttl = min(deps.settings.approval_ttl_s, deps.policy.guardrails.approval_ttl_s)
    req = ApprovalRequest.create(
        ttl_s=ttl,
        incident_id=incident_id(state),
        tool=proposed["tool"],
        args=proposed["args"],
        target=target,
        risk=risk or "unknown",
        reason=str(proposed.get("reason", "")),
        diff=effect.diff if effect else "",
        expected_effect=(
            effect.expected_effect if effect and effect.expected_effect else str(proposed.get("expected", ""))
        ),
        undo=effect.undo if effect else None,
        guard_reasons=reasons,
    )
    return req.model_dump(mode="json")


def route_after_guard(state: AgentState) -> Literal["reason", "approve", "act", "verify"]:
    """Denied or failed → reason; needs a human → approve; allowed → act; nothing to change → verify."""
    if not state.get("proposed"):
        return "reason"
    phase = state.get("phase")
    if phase == "verifying":
        return "verify"
    return "approve" if phase == "awaiting_approval" else "act"
