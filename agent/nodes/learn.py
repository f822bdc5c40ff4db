"""learn: write the incident to memory and count each action's outcome for its symptom signature.

Both are optional seams: when memory or learning is unavailable the run still ends normally and
the state says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.nodes.common import Ctx, emit
from agent.state import AgentState

LEARNED = ("fixed", "no_effect", "worse", "rejected")
INCIDENT_STATUS = {
    "resolved": "resolved",
    "mitigation_failed": "unresolved",
    "no_action_needed": "resolved",
    "escalated": "unresolved",
    "aborted": "unresolved",
}


def _when(value: Any, default: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return default
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def incident_record(state: AgentState, now: datetime, timeline: list[Any] | None = None) -> Any:
    """The ``knowledge.records.IncidentRecord`` of this run."""
    from knowledge.learning import signature_for
    from knowledge.records import ActionOutcome, Evidence, IncidentRecord

    inc = state["incident"]
    actions = state.get("actions", [])
    kinds = [str(f.get("kind")) for f in state.get("findings", [])]
    mitigated = [a["mitigated_at"] for a in actions if a.get("mitigated_at")]
    plan = state.get("plan") or {}
    return IncidentRecord(
        id=inc["id"],
        title=str(inc.get("title") or inc.get("question") or inc["id"]),
        started_at=_when(inc.get("started_at"), now),
        detected_at=_when(inc.get("detected_at") or inc.get("started_at"), now),
        mitigated_at=_when(mitigated[-1], now) if mitigated else None,
        service=inc.get("service"),
        namespace=inc.get("namespace"),
        cluster=inc.get("context"),
        alertname=inc.get("alertname"),
        labels={str(k): str(v) for k, v in (inc.get("labels") or {}).items()},
        fault_class=next((a.get("fault_class") for a in actions if a.get("fault_class")), None),
        symptoms=[str(f.get("summary")) for f in state.get("findings", []) if f.get("severity") != "info"][
            :10
        ],
        evidence=[
            Evidence(tool=e["tool"], args=e.get("args") or {}, summary=str(e.get("text", ""))[:300])
            for e in state.get("evidence", [])
            if e.get("purpose") == "read"
        ][:10],
        root_cause=state.get("root_cause") or "",
        actions=[
            ActionOutcome(
                tool=a["tool"],
                args=a.get("args") or {},
                target=_target(a),
                outcome=a["outcome"] if a.get("outcome") in (*LEARNED, "failed") else "pending",
                approved_by=a.get("approver"),
                action_key=a.get("action_key"),
                note=str(a.get("verify") or a.get("note") or ""),
            )
            for a in actions
        ],
        status=INCIDENT_STATUS.get(str(state.get("status")), "unresolved"),
        signature=plan.get("signature") or signature_for(inc.get("alertname"), kinds, inc.get("service")),
        runbook_id=(plan.get("runbooks") or [None])[0],
        summary=str(state.get("answer") or "")[:1000],
        timeline=timeline or [],
    )


def _timeline_line(kind: str, data: dict[str, Any], actor: str) -> str | None:
    tool = data.get("tool")
    if kind == "run_started":
        return f"investigation started ({data.get('reasoner')}): {data.get('title')}"
    if kind == "decision":
        return f"guard: {tool} {data.get('decision')} — {'; '.join(data.get('reasons') or [])}"[:300]
    if kind == "approval_requested":
        return f"approval {data.get('id')} requested for {tool}"
    if kind == "approval_decided":
        return f"{actor} {data.get('decision')}d {tool}" + (
            f": {data['reason']}" if data.get("reason") else ""
        )
    if kind == "action_applied":
        return f"{tool} applied {data.get('args')}"
    if kind == "action_undone":
        return f"{tool} undone with {(data.get('undo') or {}).get('tool')}"
    if kind == "verify":
        return f"verify {tool}: {data.get('outcome')} — {data.get('detail')}"[:300]
    if kind == "run_finished":
        return f"run finished: {data.get('status')}"
    return None


def timeline_of(audit: Any, incident: str) -> list[Any]:
    """The incident's timeline from its audit rows (decisions, approvals, changes, verification)."""
    from knowledge.records import TimelineEvent

    out = []
    for row in audit.rows(incident_id=incident):
        line = _timeline_line(row.kind, row.data, row.actor)
        if line:
            out.append(TimelineEvent(at=_when(row.ts, datetime.now(UTC)), event=line))
    return out


def _target(action: dict[str, Any]) -> str:
    t = (action.get("effect") or {}).get("target") or {}
    if not t:
        return ""
    return f"{t.get('kind')}/{t.get('namespace') or ''}/{t.get('name')}"


def draft_runbook_if_new(state: AgentState, runtime: Ctx, record: Any | None) -> str | None:
    """A resolved incident no runbook matched: write a draft runbook for review; returns a note."""
    from agent.knowledge_context import matching_runbooks

    deps = runtime.context
    if not deps.settings.runbook_drafts or state["incident"].get("source") == "chat":
        return None
    if state.get("status") != "resolved" or not any(
        a.get("outcome") == "fixed" for a in state.get("actions", [])
    ):
        return None
    if matching_runbooks(list(deps.runbooks), state["incident"], list(state.get("findings", []))):
        return None
    from agent.reports.runbook_draft import DraftError, write_draft

    try:
        record = record or incident_record(
            state, deps.now(), timeline_of(deps.audit, state["incident"]["id"])
        )
        path = write_draft(
            record, deps.audit.rows(incident_id=record.id), deps.settings.effective_runbook_drafts_dir
        )
    except (DraftError, OSError, ValueError, KeyError) as exc:  # a help, never a reason to fail the run
        return f"no draft runbook: {exc}"
    return f"no runbook matched: draft runbook written for review to {path}"


def learn_from_incident(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Remember the incident and the outcome of each action."""
    deps = runtime.context
    notes: list[str] = []
    incident = state["incident"]
    kinds = [str(f.get("kind")) for f in state.get("findings", [])]
    stats = deps.stats
    if stats is not None:
        from knowledge.learning import signature_for

        plan = state.get("plan") or {}  # the planner's signature (focused findings), so ranking finds it
        signature = plan.get("signature") or signature_for(
            incident.get("alertname"), kinds, incident.get("service")
        )
        for a in state.get("actions", []):
            if a.get("outcome") in LEARNED and not a.get("learned"):
                stats.record(signature, a.get("action_key") or a["tool"], a["outcome"])
    memory = deps.memory
    worth_keeping = incident.get("source") != "chat" or state.get("actions")
    record = None
    if memory is not None and worth_keeping:
        try:
            record = incident_record(state, deps.now(), timeline_of(deps.audit, incident["id"]))
            memory.remember(record)
        except Exception as exc:  # memory is optional; say so, do not fail the run
            notes.append(f"memory unavailable: could not store the incident: {exc}")
    elif memory is None:
        notes.append(deps.knowledge.note or "memory unavailable")
    drafted = draft_runbook_if_new(state, runtime, record)
    if drafted:
        emit(runtime, "status", phase="learn", text=drafted)
    done = "incident remembered" if worth_keeping else "a chat answer without changes: nothing to remember"
    actions = [{**a, "learned": True} if a.get("outcome") in LEARNED else a for a in state.get("actions", [])]
    emit(runtime, "status", phase="learn", text="; ".join(notes) or done)
    return {"actions": actions, "memory_note": "; ".join(notes) or state.get("memory_note")}
