"""report: decide how the run ended, from facts, and write the Markdown report.

The status comes from what happened, not from what the reasoner claims: ``resolved`` needs a change
verified as fixed; a change that was applied but did not fix it is ``mitigation_failed``; a proposal
that never ran (denied, rejected, failed) is ``mitigation_failed`` too; a loop-safety stop is
``aborted``. A run without any change is ``no_action_needed`` only when the signals say healthy
right now: if the incident's alert still fires or triage shows a critical symptom (or either cannot
be read), it is ``escalated``, with a hand-off for the human who takes over (:mod:`agent.handoff`).
"""

from __future__ import annotations

from typing import Any

from agent.handoff import build_handoff, handoff_markdown
from agent.nodes.common import Ctx, emit, incident_id, run_tool
from agent.nodes.triage import findings_of, triage_args
from agent.nodes.verify import alert_active
from agent.reasoners.base import is_symptom, scoped
from agent.state import AgentState, RunStatus


def run_status(state: AgentState, failing: list[str] | None = None) -> RunStatus:
    """How the run ended; ``failing`` is why the system still fails now (empty or None: healthy)."""
    if state.get("status") == "aborted":
        return "aborted"
    actions = state.get("actions", [])
    if any(a.get("outcome") == "fixed" for a in actions):
        return "resolved"
    if actions:
        return "mitigation_failed"
    return "escalated" if failing else "no_action_needed"


def still_failing(runtime: Ctx, state: AgentState) -> tuple[list[str], list[dict[str, Any]]]:
    """Why the system counts as failing right now (empty: the signals say healthy), and triage's
    current findings. What cannot be read is not taken as healthy."""
    incident = state.get("incident", {})
    result, _ = run_tool(runtime, state, "triage", triage_args(incident), purpose="report")
    if result.status == "error":
        return [f"triage could not run, so health is unknown: {result.text[:200]}"], []
    findings = findings_of(result.data)
    services = [incident.get("service"), (state.get("plan") or {}).get("suspect")]
    mine = scoped(findings, services)
    critical = [f for f in mine if f.get("severity") == "critical"]
    why = [f"critical {f.get('kind')} {f.get('target')}: {f.get('summary')}" for f in critical[:3]]
    if incident.get("alertname"):
        firing = alert_active(runtime, state)
        if firing is None:
            why.append(f"the state of alert {incident['alertname']} could not be read")
        elif firing and (any(is_symptom(f) for f in mine) or not incident.get("follows")):
            # after a verified fix elsewhere, an alert over a long window lags the recovery: it is
            # waited out only when no symptom at all is left; otherwise a firing alert is for a human
            why.append(f"alert {incident['alertname']} still fires")
    return why, findings


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
    flagged = [e for e in state.get("evidence", []) if e.get("injection")]
    if flagged:
        lines += ["", "## Suspected prompt injection", ""]
        lines += ["Tool output that reads like instructions to the agent (treated as data, not followed):"]
        lines += [f"- `{e['tool']}` {e.get('args')}: “{e['injection'][0]}”" for e in flagged[-10:]]
    if state.get("memory_note"):
        lines += ["", f"_{state['memory_note']}_"]
    return "\n".join(lines) + "\n"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:160]


def _needs_check(state: AgentState) -> bool:
    """Runs that end without a verified fix on an incident (not a chat answer) are checked for health."""
    if state.get("incident", {}).get("source") == "chat" or state.get("status") == "aborted":
        return False
    return not any(a.get("outcome") == "fixed" for a in state.get("actions", []))


def write_report(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Settle the status and write the report (with a hand-off when a human must take over)."""
    failing: list[str] = []
    handoff: dict[str, Any] | None = None
    if _needs_check(state):
        failing, now = still_failing(runtime, state)
        if failing:
            handoff = build_handoff(dict(state), now, failing)
    status = run_status(state, failing)
    report = render_report(state, status)
    if handoff is not None:
        report += "\n" + handoff_markdown(handoff) + "\n"
        emit(runtime, "escalated", status=status, why=failing)
    runtime.context.audit.append(
        "run_finished",
        incident_id=incident_id(state),
        data={
            "status": status,
            "stop_reason": state.get("stop_reason"),
            "root_cause": state.get("root_cause"),
            "steps": state.get("steps", 0),
            "tokens": state.get("tokens", 0),
            "still_failing": failing,
            "actions": [
                {k: a.get(k) for k in ("tool", "args", "status", "outcome")} for a in state.get("actions", [])
            ],
        },
    )
    emit(runtime, "finished", status=status, root_cause=state.get("root_cause"))
    return {"status": status, "report": report, "phase": "done", "handoff": handoff}
