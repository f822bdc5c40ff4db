"""deploy/grafana/devops-agent.json queries only metrics the agent really exports on /metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.server.metrics import AgentMetrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "devops-agent.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}


def exported() -> set[str]:
    """Every series name AgentMetrics can put on /metrics (a family's name plus its type's suffixes)."""
    return {
        family.name + suffix
        for family in AgentMetrics().registry.collect()
        for suffix in SUFFIXES[family.type]
    }


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions, keywords or labels."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # grouping
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr))
    return names - KEYWORDS - {"e", "inf", "nan", "Inf", "NaN"}


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in items:
        yield p
        yield from panels(p.get("panels") or [])


def test_metric_names_are_parsed_out_of_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, tool) (rate(a_bucket{tool="x"}[$__rate_interval]))) / b'
    assert metric_names(expr) == {"a_bucket", "b"}


def test_every_panel_queries_only_metrics_the_agent_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = exported()
    queried: set[str] = set()
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            found = metric_names(target["expr"])
            assert found, f"{panel['title']}: no metric in {target['expr']!r}"
            assert found <= names, f"{panel['title']}: {sorted(found - names)} are not exported"
            queried |= found
    families = {
        n.removesuffix(s) for n in queried for s in ("_total", "_bucket", "_sum", "_count") if n.endswith(s)
    }
    assert {
        "devops_agent_escalations",
        "devops_agent_alert_groups_folded",
        "devops_agent_llm_tokens",
    } <= families
    assert {"devops_agent_queue_depth", "devops_agent_incidents_open"} <= queried


def test_panel_ids_are_unique_and_the_datasource_is_a_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    assert [v["name"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"] == ["datasource"]
