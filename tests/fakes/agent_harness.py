"""Helpers for graph tests: a test runbook, an auto policy, settings for a tmp data dir, an event sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.runner import RunEvent
from agent.settings import Settings

RUNBOOK = """---
id: shop-bad-deploy
title: Error rate up right after a rollout
fault_class: bad_deploy
match:
  alerts: [ServiceHighErrorRate]
  findings: [high_error_rate]
diagnostics:
  - tool: k8s_rollout_history
    args: {deployment: "{service}", namespace: "{namespace}"}
    why: Was there a rollout just before the errors?
  - tool: prometheus_query
    args: {query: 'errors{namespace="{namespace}"}'}
    why: How bad is it?
remediations:
  - id: rollback
    tool: k8s_rollback
    args: {deployment: "{finding.recent_rollout.deployment}", namespace: "{namespace}"}
    requires: [recent_rollout, high_error_rate]
    expected: 5xx back under 1%
  - id: scale-out
    tool: k8s_scale
    args: {deployment: "{finding.high_error_rate.deployment}", namespace: "{namespace}", replicas: 5}
    requires: [high_error_rate]
    expected: more capacity
---
# Error rate up after a rollout
"""

POLICY_AUTO = """
version: 1
default_autonomy: auto
guardrails:
  cooldown_s: 0
"""


def make_settings(tmp_path: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "default_namespace": "shop",
        "verify_timeout_s": 0.0,
        "verify_interval_s": 0.0,
        "llm_max_retries": 0,
        "llm_timeout_s": 10.0,
        "reasoner": "planner",
    }
    base.update(kw)
    return Settings(**base)


class Events:
    """Collects run events (and is the on_event callback)."""

    def __init__(self) -> None:
        self.items: list[RunEvent] = []

    def __call__(self, event: RunEvent) -> None:
        self.items.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.items]

    def tools(self, purpose: str = "read") -> list[str]:
        return [
            e.data["tool"]
            for e in self.items
            if e.kind == "tool_started" and e.data.get("purpose") == purpose
        ]
