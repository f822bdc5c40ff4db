"""Helpers every node uses: progress events, audited tool calls, conversation bookkeeping."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from langgraph.runtime import Runtime

from agent.deps import AgentDeps
from agent.state import AgentState
from tools.base import ToolResult
from tools.injection import find_injections
from tools.redact import redact_obj, redact_text

Ctx = Runtime[AgentDeps]

SUMMARY_CHARS = 400
"""How much of a tool result the audit row and the evidence list keep."""


def emit(runtime: Ctx, kind: str, **data: Any) -> None:
    """Send a progress event to whoever streams the run (CLI, chat, serve); a no-op otherwise."""
    runtime.stream_writer({"kind": kind, **data})


def incident_id(state: AgentState) -> str:
    return str(state.get("incident", {}).get("id", "unknown"))


def canonical(args: dict[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, default=str, separators=(",", ":"))


def call_key(tool: str, args: dict[str, Any]) -> str:
    """The repeat-call guard's identity of a call: tool name plus canonical arguments."""
    return f"{tool}:{canonical(args)}"


def args_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def run_tool(
    runtime: Ctx,
    state: AgentState,
    tool_name: str,
    args: dict[str, Any],
    *,
    dry_run: bool = False,
    purpose: str = "read",
) -> tuple[ToolResult, dict[str, Any]]:
    """Run one registered tool, audit it, emit events; returns the result and its evidence entry."""
    deps = runtime.context
    iid = incident_id(state)
    emit(runtime, "tool_started", tool=tool_name, args=args, purpose=purpose, dry_run=dry_run)
    tool = deps.tools.get(tool_name)
    if tool is None:
        result = ToolResult.error(f"unknown tool {tool_name!r}; nothing was executed")
    else:
        result = tool.invoke(deps.tool_deps, args, dry_run=dry_run)  # read tools ignore dry_run
    text = redact_text(result.text)
    injection = find_injections(text) if tool is not None and not tool.is_action else []
    entry = {
        "tool": tool_name,
        "args": redact_obj(args),
        "status": result.status,
        "text": text,
        "step": state.get("steps", 0),
        "purpose": purpose,
        "dry_run": dry_run,
        "duration_s": round(result.duration_s, 3),
    }
    if injection:  # data, never instructions: the model is told, the audit and the report keep it
        entry["injection"] = injection
        emit(
            runtime,
            "warning",
            text=f"{tool_name} output reads like instructions to the agent: {injection[0]}",
        )
    deps.audit.append(
        "tool_call",
        incident_id=iid,
        data={
            **{k: entry[k] for k in ("tool", "args", "status", "purpose", "dry_run")},
            "summary": text[:SUMMARY_CHARS],
            **({"injection": injection} if injection else {}),
        },
    )
    emit(runtime, "tool_finished", tool=tool_name, status=result.status, summary=text[:200], purpose=purpose)
    return result, entry


def tool_message(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def answer_call(messages: list[dict[str, Any]], call_id: str | None, content: str) -> list[dict[str, Any]]:
    """Append the tool message answering an LLM tool call (planner proposals have no call id)."""
    if not call_id:
        return messages
    return [*messages, tool_message(call_id, redact_text(content))]


def close_open_calls(messages: list[dict[str, Any]], content: str) -> list[dict[str, Any]]:
    """Answer every tool call of the last assistant message that has no answer yet.

    An OpenAI conversation is invalid while a tool call is unanswered; a run that stops mid-way must
    leave it valid so the next chat turn can continue it.
    """
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    out = list(messages)
    for m in reversed(messages):
        if m.get("role") == "assistant":
            for call in m.get("tool_calls") or []:
                if call["id"] not in answered:
                    out.append(tool_message(call["id"], content))
            break
    return out


def add_action(state: AgentState, action: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions list with ``action`` recorded (replacing an earlier entry with the same key)."""
    key = action.get("key")
    kept = [a for a in state.get("actions", []) if a.get("key") != key]
    return [*kept, action]


def current_action(state: AgentState) -> dict[str, Any] | None:
    """The action record of the proposal under consideration."""
    proposed = state.get("proposed")
    if not proposed:
        return None
    return next((a for a in state.get("actions", []) if a.get("key") == proposed.get("key")), None)
