"""triage: the cheap deterministic analyzers (``triage`` tool) over the incident's namespace.

Findings, not conclusions; they seed the reasoner and decide which runbook remediations apply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.nodes.common import Ctx, emit, run_tool
from agent.state import AgentState
from tools.redact import redact_obj


def triage_args(incident: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"namespace": incident.get("namespace") or "default"}
    if incident.get("service"):
        args["service"] = incident["service"]
    if incident.get("context"):
        args["context"] = incident["context"]
    return args


def findings_of(data: Any) -> list[dict[str, Any]]:
    """Finding dicts from the triage tool's data (a list of findings, or {"findings": [...]})."""
    items = data.get("findings", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        return []
    out = []
    for f in items:
        d = f.model_dump(mode="json") if hasattr(f, "model_dump") else f
        if isinstance(d, dict) and d.get("kind"):
            out.append(redact_obj(d))
    return out


def triage_incident(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Run every analyzer for the incident's namespace (and service, when known)."""
    incident = state["incident"]
    args = triage_args(incident)
    # when the symptom began: the alert's start, else now (a question asked about a failing service)
    args["onset"] = str(
        incident.get("started_at") or incident.get("detected_at") or datetime.now(UTC).isoformat()
    )
    result, entry = run_tool(runtime, state, "triage", args, purpose="triage")
    findings = findings_of(result.data) if result.status == "ok" else []
    emit(
        runtime,
        "status",
        phase="triage",
        text=f"{len(findings)} finding(s)" if result.status != "error" else result.text,
    )
    path = result.data.get("path") if isinstance(result.data, dict) else None
    return {"findings": findings, "evidence": [*state.get("evidence", []), entry], "path": list(path or [])}
