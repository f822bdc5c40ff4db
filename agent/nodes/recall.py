"""recall: similar past incidents from memory, with the actions that worked for them, and the
runbooks that fit the incident.

Runbooks are matched on the alert the way the planner matches them; when none matches (a chat
question, an alert no runbook names) the runbook index is searched with the incident's text. The
reason node refines the choice once triage has findings (``agent.knowledge_context``).

Memory is optional: when it cannot open (or is empty) the run goes on and the state says why —
never invented data.
"""

from __future__ import annotations

from typing import Any

from agent.knowledge_context import MAX_RUNBOOKS, matching_runbooks, search_loaded
from agent.nodes.common import Ctx, emit
from agent.state import AgentState
from tools.redact import redact_text

RECALL_K = 3


def recall_incidents(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Look up the incidents most like this one (service, alert name and text)."""
    deps = runtime.context
    incident = state["incident"]
    memory = deps.memory
    text = "\n".join(str(incident.get(k) or "") for k in ("title", "question", "alertname", "service"))
    latest = state.get("question")  # a chat follow-up asks about something new
    runbooks = _runbooks_for(
        state,
        runtime,
        memory,
        text + (f"\n{latest}" if latest and latest != incident.get("question") else ""),
    )
    if memory is None:
        note = deps.knowledge.note or "memory unavailable: not configured"
        emit(runtime, "status", phase="recall", text=note)
        return {"recalled": [], "memory_note": note, "runbooks": runbooks}
    try:
        past = memory.recall(
            text,
            service=incident.get("service"),
            namespace=incident.get("namespace"),
            alertname=incident.get("alertname"),
            k=RECALL_K,
        )
    except Exception as exc:  # a broken memory must not stop an investigation
        note = f"memory unavailable: recall failed: {type(exc).__name__}: {exc}"
        emit(runtime, "status", phase="recall", text=note)
        return {"recalled": [], "memory_note": note, "runbooks": runbooks}
    recalled = [
        {
            "id": p.id,
            "score": round(p.score, 3),
            "matched": list(p.matched),
            "summary": redact_text(p.compact()),
        }
        for p in past
        if p.id != incident.get("id")
    ]
    emit(
        runtime,
        "status",
        phase="recall",
        text=f"{len(recalled)} similar past incident(s); runbooks: {', '.join(runbooks) or 'none'}",
    )
    return {"recalled": recalled, "memory_note": deps.knowledge.note, "runbooks": runbooks}


def _runbooks_for(state: AgentState, runtime: Ctx, memory: Any | None, text: str) -> list[str]:
    """Ids of the runbooks matching the alert, else the ones most like the incident's text."""
    loaded = list(runtime.context.runbooks)
    matched = matching_runbooks(loaded, state["incident"], list(state.get("findings", [])))
    found = matched or search_loaded(loaded, memory, text, k=MAX_RUNBOOKS)
    return [rb.id for rb in found[:MAX_RUNBOOKS]]
