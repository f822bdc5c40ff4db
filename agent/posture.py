"""Posture fixes through the guard, outside the graph: each safe fix is dry-run, judged by the
policy and audited exactly as an MCP call is (``agent.mcp_calls.GuardedCalls``). Where the policy
wants a human it becomes a pending approval (``devops-agent approvals``) and nothing changes; an
approved one is applied once with :func:`apply_approved`."""

from __future__ import annotations

import json
import uuid
from typing import Any

from agent.approvals import POSTURE_PREFIX
from agent.deps import AgentDeps
from agent.mcp_calls import CallOutcome, GuardedCalls


def _calls(deps: AgentDeps, actor: str) -> GuardedCalls:
    return GuardedCalls(deps, actor, session_id=f"{POSTURE_PREFIX}{uuid.uuid4().hex[:10]}", via="posture")


def propose_fixes(deps: AgentDeps, fixes: list[dict[str, Any]], actor: str) -> list[dict[str, Any]]:
    """Propose every fix (``tools.posture.fixes.proposals``); returns one outcome per fix."""
    calls = _calls(deps, actor)
    waiting = {(r.tool, _key(r.args)): r.id for r in deps.approvals.list(status="pending")}
    out = []
    for fix in fixes:
        pending = waiting.get((fix["tool"], _key(fix["args"])))
        if pending is not None:  # a second --fix does not ask twice for the same change
            text = f"approval {pending} already waits for a human; nothing was proposed again"
            out.append({**fix, "status": "pending_approval", "text": text, "approval_id": pending,
                        "reasons": [], "diff": ""})  # fmt: skip
            continue
        outcome = calls.call(fix["tool"], fix["args"], reason=fix["reason"])
        out.append({**fix, **_outcome(outcome)})
    return out


def _key(args: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in args.items() if v is not None}, sort_keys=True)


def apply_approved(deps: AgentDeps, approval_id: str, actor: str) -> dict[str, Any]:
    """Apply a posture fix a human approved, once (raises ``ApprovalError`` when it cannot be)."""
    return _outcome(_calls(deps, actor).apply_approved(approval_id))


def _outcome(outcome: CallOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "text": outcome.text,
        "approval_id": outcome.approval_id,
        "reasons": outcome.reasons,
        "diff": outcome.diff,
    }
