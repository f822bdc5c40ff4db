"""approve: pause the run for a human with ``interrupt()``; resume with the decision.

The node re-runs from its start when the run resumes, so everything before ``interrupt()`` is
idempotent: the request id was fixed by the guard, ``ApprovalStore.add`` ignores a second add, and
the ``approval_requested`` audit row is written only the first time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from langgraph.types import interrupt

from agent.approvals import ApprovalError, ApprovalRequest
from agent.nodes.common import Ctx, add_action, answer_call, current_action, emit, incident_id
from agent.state import AgentState


def _index(runtime: Ctx, state: AgentState, request: dict[str, Any]) -> bool:
    """Put the request in the approval store (once) so CLI, Slack and the HTTP API can find it.

    True the first time; False when the node re-runs on resume (nothing is written or announced again).
    """
    deps = runtime.context
    try:
        deps.approvals.get(request["id"])
        return False
    except ApprovalError:
        pass
    deps.approvals.add(ApprovalRequest.model_validate(request))
    deps.audit.append("approval_requested", incident_id=incident_id(state), data=request)
    return True


def request_approval(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Ask a human; apply their decision (approve, approve with edited arguments, reject)."""
    deps = runtime.context
    request = dict(state["approval"] or {})
    if _index(runtime, state, request):
        emit(runtime, "approval_requested", approval=request)
    decision: dict[str, Any] = interrupt(request)
    proposed = dict(state["proposed"] or {})
    action = dict(current_action(state) or {})
    approver = str(decision.get("approver", "unknown"))
    verdict = str(decision.get("decision", "reject"))
    expired = _expired(request, decision)
    if expired:
        verdict = "reject"
        decision = {**decision, "reason": f"the approval expired at {request['expires_at']}"}
    deps.audit.append(
        "approval_decided",
        incident_id=incident_id(state),
        actor=approver,
        data={
            "approval_id": request["id"],
            "decision": verdict,
            "reason": decision.get("reason"),
            "edited_args": decision.get("edited_args"),
            "tool": proposed.get("tool"),
        },
    )
    emit(runtime, "approval_decided", approval_id=request["id"], decision=verdict, approver=approver)
    approval = {**request, "decision": decision}
    if verdict != "approve":
        why = f"rejected by {approver}" + (f": {decision['reason']}" if decision.get("reason") else "")
        record = {**action, "status": "rejected", "outcome": "rejected", "approver": approver, "note": why}
        return {
            "approval": approval,
            "actions": add_action(state, record),
            "messages": answer_call(
                list(state.get("messages", [])), proposed.get("call_id"), f"not executed: {why}"
            ),
            "notes": [*state.get("notes", []), f"{proposed.get('tool')} {proposed.get('args')}: {why}"],
            "proposed": None,
            "phase": "investigating",
        }
    edited = decision.get("edited_args")
    record = {**action, "approver": approver, "approval_id": request["id"]}
    if edited:
        merged = {**proposed["args"], **edited}
        proposed = {**proposed, "args": merged, "approved_by": approver, "edited": True}
        record["args"] = merged
        return {
            "approval": approval,
            "proposed": proposed,
            "actions": add_action(state, record),
            "phase": "guarding",
        }
    return {"approval": approval, "actions": add_action(state, record), "phase": "acting"}


def _expired(request: dict[str, Any], decision: dict[str, Any]) -> bool:
    decided = decision.get("decided_at")
    if not decided:
        return False
    return datetime.fromisoformat(str(decided)) >= datetime.fromisoformat(str(request["expires_at"]))


def route_after_approval(state: AgentState) -> Literal["reason", "guard", "act"]:
    """Rejected → reason (told why); approved with edits → guard again; approved → act."""
    if not state.get("proposed"):
        return "reason"
    return "guard" if state.get("phase") == "guarding" else "act"
