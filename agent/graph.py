"""The incident graph (DESIGN.md): intake → recall → triage → reason ⇄ tools; reason → guard →
approve → act → verify → reason; reason → report → learn → END.

``build_graph`` wires the nodes; ``compile_graph`` adds the checkpointer (``agent.storage``: SQLite in
the data dir, or Postgres), so a run paused for approval survives the process and another process
can resume it (thread id = incident id). Nodes get their dependencies from the runtime context (:class:`agent.deps.AgentDeps`).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent import failpoints
from agent.deps import AgentDeps
from agent.nodes.act import apply_action, route_after_act
from agent.nodes.approve import request_approval, route_after_approval
from agent.nodes.guard import guard_proposed_action, route_after_guard
from agent.nodes.intake import intake_incident
from agent.nodes.learn import learn_from_incident
from agent.nodes.reason import reason_next, route_after_reason
from agent.nodes.recall import recall_incidents
from agent.nodes.report import write_report
from agent.nodes.tools import route_after_tools, run_read_tools
from agent.nodes.triage import triage_incident
from agent.nodes.verify import verify_action
from agent.state import AgentState

Graph = CompiledStateGraph[AgentState, AgentDeps, AgentState, AgentState]


def build_graph() -> StateGraph[AgentState, AgentDeps, AgentState, AgentState]:
    """The uncompiled graph."""
    g: StateGraph[AgentState, AgentDeps, AgentState, AgentState] = StateGraph(
        AgentState, context_schema=AgentDeps
    )
    nodes = {
        "intake": intake_incident,
        "recall": recall_incidents,
        "triage": triage_incident,
        "reason": reason_next,
        "tools": run_read_tools,
        "guard": guard_proposed_action,
        "approve": request_approval,
        "act": apply_action,
        "verify": verify_action,
        "report": write_report,
        "learn": learn_from_incident,
    }
    for name, fn in nodes.items():
        g.add_node(name, failpoints.wrap(name, fn))  # unchanged unless a crash test sets failpoints
    g.add_edge(START, "intake")
    g.add_edge("intake", "recall")
    g.add_edge("recall", "triage")
    g.add_edge("triage", "reason")
    g.add_conditional_edges("reason", route_after_reason)
    g.add_conditional_edges("tools", route_after_tools)
    g.add_conditional_edges("guard", route_after_guard)
    g.add_conditional_edges("approve", route_after_approval)
    g.add_conditional_edges("act", route_after_act)
    g.add_edge("verify", "reason")
    g.add_edge("report", "learn")
    g.add_edge("learn", END)
    return g


def compile_graph(checkpointer: Any) -> Graph:
    """The runnable graph with its checkpointer."""
    return build_graph().compile(checkpointer=checkpointer)


def studio_graph() -> Graph:
    """The incident graph for LangGraph Studio (`langgraph dev`, see langgraph.json).

    Compiled without a checkpointer: the LangGraph server supplies its own. A run still needs the
    runtime context (:class:`agent.deps.AgentDeps`); building the graph needs no cluster and no LLM.
    """
    return build_graph().compile()
