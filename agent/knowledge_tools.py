"""Read tools over the agent's knowledge: runbooks and past incidents, for the LLM to call.

They live agent-side because ``tools/`` never imports ``knowledge/``: each is a ``tools.base.tool``
closed over the process's :class:`~agent.deps.MemorySeam` (its runbooks and memory), so memory still opens lazily and a memory
that cannot open gives a clear error result instead of stopping the run. Their schemas are kept tiny:
every token of a tool schema is paid on every model call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.knowledge_context import runbooks_text, search_loaded
from tools.base import Tool, ToolDeps, ToolResult, tool
from tools.budget import fit_text
from tools.redact import redact_text

if TYPE_CHECKING:
    from agent.deps import MemorySeam

SEARCH_K = 3


def knowledge_tools(seam: MemorySeam) -> list[Tool]:
    """``search_runbooks`` and ``recall_incidents`` over the seam's runbooks and memory."""

    @tool(risk="read", name="search_runbooks")
    def search_runbooks(deps: ToolDeps, query: str) -> ToolResult:
        """Find runbooks for symptoms: their checks and fixes with preconditions.
        Example: search_runbooks(query="5xx after a rollout")"""
        found = search_loaded(seam.runbooks, seam.memory, query, k=SEARCH_K)
        if not found:
            return ToolResult.no_data(f"no runbook matches {query!r}", [])
        text = runbooks_text(found, budget=deps.token_budget)
        return ToolResult.ok(text, [rb.id for rb in found])

    @tool(risk="read", name="recall_incidents")
    def recall_incidents(deps: ToolDeps, query: str) -> ToolResult:
        """Past incidents like the query and what fixed them.
        Example: recall_incidents(query="predictor crash loop")"""
        memory = seam.memory
        if memory is None:
            return ToolResult.error(
                (seam.note or "memory unavailable: not configured")
                + "; past incidents cannot be searched — carry on with the other tools"
            )
        try:
            past = memory.recall(query, k=SEARCH_K)
        except Exception as exc:
            return ToolResult.error(f"recall failed: {type(exc).__name__}: {exc}; carry on without it")
        if not past:
            return ToolResult.no_data(f"no past incident resembles {query!r}", [])
        text = "\n".join(redact_text(p.compact()) for p in past)
        return ToolResult.ok(fit_text(text, deps.token_budget)[0], [p.id for p in past])

    return [search_runbooks, recall_incidents]
