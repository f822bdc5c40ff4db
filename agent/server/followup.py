"""After a verified fix: is a correlated alert that still fires a lagging alert, or a fault of its own?

A group released after its parent's verified fix, or one that opened on the parent's failing path
after the fix, is looked at once outside the graph with the same triage analyzers a run starts with.
When nothing fails in the namespace now, the alert is lagging (its window has not passed yet): it is
folded into the parent, listed in the parent's report, and looked at again once the settle window
has passed. An alert that still fires then is investigated like any other. When something fails, or
triage cannot tell, it is investigated now. The check itself is in the audit log.
"""

from __future__ import annotations

from typing import Any

from agent.nodes.triage import findings_of, triage_args
from agent.reasoners.base import is_symptom
from tools.redact import redact_text

SUMMARY_CHARS = 400


def symptoms_now(deps: Any, incident: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The symptom findings triage sees now for the incident's namespace; None when it cannot tell."""
    tool = deps.tools.get("triage") if deps is not None else None
    if tool is None:
        return None
    args = triage_args(incident)
    args["onset"] = str(incident.get("created_at") or "")
    try:
        result = tool.invoke(deps.tool_deps, args)
    except Exception:  # a read that blew up decides nothing: investigate
        return None
    deps.audit.append(
        "tool_call",
        incident_id=incident["id"],
        data={
            "tool": "triage",
            "args": args,
            "status": result.status,
            "purpose": "follow-up check",
            "dry_run": False,
            "summary": redact_text(result.text)[:SUMMARY_CHARS],
        },
    )
    if result.status != "ok":
        return None
    return [f for f in findings_of(result.data) if is_symptom(f)]
