"""act: server-side dry run, then the change; the undo recipe is recorded.

Exactly once: every change carries an idempotency key (the approval id, or a hash of thread, tool
and arguments). If the audit log already has ``action_applied`` with that key — the process died
after applying, before the checkpoint — the change is not made again (``action_skipped``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from agent.guard import rate_problems, target_key
from agent.nodes.common import (
    Ctx,
    add_action,
    answer_call,
    args_hash,
    canonical,
    current_action,
    emit,
    incident_id,
    run_tool,
)
from agent.nodes.verify import findings_now
from agent.state import AgentState


def idempotency_key(state: AgentState, action: dict[str, Any]) -> str:
    if action.get("approval_id"):
        return str(action["approval_id"])
    return "act-" + args_hash(incident_id(state), action["key"], action["tool"], canonical(action["args"]))


def _previous_effect(runtime: Ctx, key: str) -> dict[str, Any] | None:
    for row in runtime.context.audit.rows(kind="action_applied"):
        if row.idempotency_key == key:
            effect = row.data.get("effect")
            return effect if isinstance(effect, dict) else None
    return None


def apply_action(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Apply the approved or auto-allowed change once."""
    deps = runtime.context
    proposed = dict(state["proposed"] or {})
    action = {**(current_action(state) or {}), "tool": proposed["tool"], "args": proposed["args"]}
    key = idempotency_key(state, action)
    action["idempotency_key"] = key
    iid = incident_id(state)
    if deps.audit.has_applied(key):
        deps.audit.append(
            "action_skipped",
            incident_id=iid,
            idempotency_key=key,
            data={"tool": action["tool"], "args": action["args"], "why": "already applied with this key"},
        )
        emit(runtime, "action", tool=action["tool"], status="skipped", text="already applied (resumed run)")
        earlier = _previous_effect(runtime, key)
        record = {
            **action,
            "status": "applied",
            "effect": earlier,
            "undo": (earlier or {}).get("undo"),
            "note": "applied before a restart; not applied again",
        }
        return {"actions": add_action(state, record), "phase": "verifying"}
    dry, dry_entry = run_tool(runtime, state, action["tool"], action["args"], dry_run=True, purpose="dry_run")
    evidence = [*state.get("evidence", []), dry_entry]
    if dry.status == "error":
        return _failed(state, proposed, action, evidence, f"the dry run before applying failed: {dry.text}")
    now = deps.now()
    history = deps.audit.action_history(now - timedelta(hours=1))
    raced = rate_problems(action["tool"], dry.effect, deps.policy, history, now)
    if raced:
        return _failed(state, proposed, action, evidence, "not applied now: " + "; ".join(raced))
    before = findings_now(runtime, state)  # verify's baseline: the cluster right before the change
    result, entry = run_tool(runtime, state, action["tool"], action["args"], purpose="apply")
    evidence.append(entry)
    if result.status == "error":
        landed = _landed_anyway(runtime, state, action, evidence)
        if landed is None:
            return _failed(state, proposed, action, evidence, f"applying failed: {result.text}")
        result = landed  # the answer was lost (timeout, conflict on a retry) but the change is in place
    effect = result.effect or dry.effect
    effect_d = effect.model_dump(mode="json") if effect else None
    tkey = (
        target_key(effect.target.kind, effect.target.namespace, effect.target.name, effect.target.context)
        if effect
        else ""
    )
    deps.audit.append(
        "action_applied",
        incident_id=iid,
        actor=str(action.get("approver") or "policy:auto"),
        idempotency_key=key,
        data={
            "tool": action["tool"],
            "args": action["args"],
            "target_ref": tkey,  # not "..._key": the audit's redaction masks names ending in _key
            "effect": effect_d,
            "approval_id": action.get("approval_id"),
            "result": result.text[:400],
        },
    )
    emit(runtime, "action", tool=action["tool"], status="applied", text=result.text[:200])
    record = {
        **action,
        "status": "applied",
        "effect": effect_d,
        "undo": (effect_d or {}).get("undo"),
        "diff": (effect_d or {}).get("diff", action.get("diff", "")),
        "applied_at": deps.now().isoformat(),
        "before": before,
    }
    return {"actions": add_action(state, record), "evidence": evidence, "phase": "verifying"}


def _landed_anyway(
    runtime: Ctx, state: AgentState, action: dict[str, Any], evidence: list[dict[str, Any]]
) -> Any | None:
    """After a failed apply, ask the cluster again (a dry run): when the target is now in the requested
    state, the change landed although its answer was lost (a timeout, or a client retry refused with a
    conflict). It is then recorded as applied, so the audit, the cooldown and exactly-once see it."""
    again, entry = run_tool(runtime, state, action["tool"], action["args"], dry_run=True, purpose="dry_run")
    evidence.append(entry)
    if again.status == "error" or again.effect is None or again.effect.changed:
        return None
    note = "the apply's answer was lost, but the cluster shows the change in place"
    return again.model_copy(
        update={"text": f"{note}: {again.text}", "effect": None}
    )  # keep the first dry run's diff and undo


def _failed(
    state: AgentState,
    proposed: dict[str, Any],
    action: dict[str, Any],
    evidence: list[dict[str, Any]],
    why: str,
) -> dict[str, Any]:
    record = {**action, "status": "failed", "outcome": "failed", "note": why}
    return {
        "actions": add_action(state, record),
        "evidence": evidence,
        "messages": answer_call(
            list(state.get("messages", [])), proposed.get("call_id"), f"not applied: {why}"
        ),
        "notes": [*state.get("notes", []), why],
        "proposed": None,
        "phase": "investigating",
    }


def route_after_act(state: AgentState) -> Literal["verify", "reason"]:
    """Applied → verify; failed → reason (told why)."""
    return "verify" if state.get("phase") == "verifying" else "reason"
