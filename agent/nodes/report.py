"""report: decide how the run ended, from facts, and write the Markdown report.

The status comes from what happened, not from what the reasoner claims: ``resolved`` needs a change
verified as fixed; a change that was applied but did not fix it is ``mitigation_failed``; a proposal
that never ran (denied, rejected, failed) is ``mitigation_failed`` too; a loop-safety stop is
``aborted``; a diagnosis without any proposal is ``no_action_needed``.
"""

from __future__ import annotations

from typing import Any

from agent.nodes.common import Ctx, emit, incident_id
from agent.state import AgentState, RunStatus


def run_status(state: AgentState) -> RunStatus:
    if state.get("status") == "aborted":
        return "aborted"
    actions = state.get("actions", [])
    if any(a.get("outcome") == "fixed" for a in actions):
        return "resolved"
    if actions:
        return "mitigation_failed"
    return "no_action_needed"


def _action_line(a: dict[str, Any]) -> str:
    who = f", approved by {a['approver']}" if a.get("approver") else ""
    detail = a.get("verify") or a.get("note") or ""
    return f"- `{a['tool']}` {a.get('args')}: {a.get('status')} → {a.get('outcome')}{who}" + (
        f" — {detail}" if detail else ""
    )


def render_report(state: AgentState, status: RunStatus) -> str:
    incident = state.get("incident", {})
    lines = [f"# {incident.get('id')}: {incident.get('title')}", "", f"**Status:** {status}"]
    if state.get("stop_reason"):
        lines.append(f"**Stopped:** {state['stop_reason']}")
    lines.append(f"**Root cause:** {state.get('root_cause') or 'not determined'}")
    where = f"namespace `{incident.get('namespace')}`" + (
        f", service `{incident['service']}`" if incident.get("service") else ""
    )
    lines += ["", f"Scope: {where}. Steps: {state.get('steps', 0)}, LLM tokens: {state.get('tokens', 0)}."]
    if state.get("answer"):
        lines += ["", "## Analysis", "", str(state["answer"]).strip()]
    findings = state.get("findings", [])
    if findings:
        lines += ["", "## Findings", ""]
        lines += [
            f"- [{f.get('severity')}] {f.get('kind')} {f.get('target')}: {f.get('summary')}" for f in findings
        ]
    actions = state.get("actions", [])
    if actions:
        lines += ["", "## Actions", ""] + [_action_line(a) for a in actions]
    evidence = [e for e in state.get("evidence", []) if e.get("purpose") in ("read", "triage")]
    if evidence:
        lines += ["", "## Evidence", ""]
        lines += [
            f"- `{e['tool']}` {e.get('args')}: [{e['status']}] {_first_line(e.get('text', ''))}"
            for e in evidence[-15:]
        ]
    if state.get("memory_note"):
        lines += ["", f"_{state['memory_note']}_"]
    return "\n".join(lines) + "\n"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:160]


def write_report(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Settle the status and write the report."""
    status = run_status(state)
    report = render_report(state, status)
    runtime.context.audit.append(
        "run_finished",
        incident_id=incident_id(state),
        data={
            "status": status,
            "stop_reason": state.get("stop_reason"),
            "root_cause": state.get("root_cause"),
            "steps": state.get("steps", 0),
            "tokens": state.get("tokens", 0),
            "actions": [
                {k: a.get(k) for k in ("tool", "args", "status", "outcome")} for a in state.get("actions", [])
            ],
        },
    )
    emit(runtime, "finished", status=status, root_cause=state.get("root_cause"))
    return {"status": status, "report": report, "phase": "done"}
