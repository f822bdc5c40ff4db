"""recall: similar past incidents from memory, with the actions that worked for them.

Memory is optional: when it cannot open (or is empty) the run goes on and the state says why —
never invented data.
"""

from __future__ import annotations

from typing import Any

from agent.nodes.common import Ctx, emit
from agent.state import AgentState
from tools.redact import redact_text

RECALL_K = 3


def recall_incidents(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Look up the incidents most like this one (service, alert name and text)."""
    deps = runtime.context
    incident = state["incident"]
    memory = deps.memory
    if memory is None:
        note = deps.knowledge.note or "memory unavailable: not configured"
        emit(runtime, "status", phase="recall", text=note)
        return {"recalled": [], "memory_note": note}
    text = "\n".join(str(incident.get(k) or "") for k in ("title", "question", "alertname", "service"))
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
        return {"recalled": [], "memory_note": note}
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
    emit(runtime, "status", phase="recall", text=f"{len(recalled)} similar past incident(s)")
    return {"recalled": recalled, "memory_note": deps.knowledge.note}
