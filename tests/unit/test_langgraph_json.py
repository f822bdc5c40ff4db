"""langgraph.json points LangGraph Studio (`langgraph dev`) at a graph that builds with no cluster and no LLM."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from langgraph.graph.state import CompiledStateGraph

ROOT = Path(__file__).resolve().parents[2]
NODES = {
    "intake",
    "recall",
    "triage",
    "reason",
    "tools",
    "guard",
    "approve",
    "act",
    "verify",
    "report",
    "learn",
}


def test_langgraph_json_names_the_incident_graph_factory() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    assert set(config["graphs"]) == {"incident"}
    path, _, attr = config["graphs"]["incident"].partition(":")
    file = (ROOT / path).resolve()
    assert file.is_file(), path
    module = ".".join(file.relative_to(ROOT).with_suffix("").parts)
    factory = getattr(importlib.import_module(module), attr)

    graph = factory()

    assert isinstance(graph, CompiledStateGraph)
    assert set(graph.get_graph().nodes) - {"__start__", "__end__"} == NODES
    assert graph.checkpointer is None  # the LangGraph server brings its own
