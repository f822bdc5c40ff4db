"""Fixtures for graph tests: a Runner over the scripted cluster, with a tmp data dir."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.scripted_tools import FakeCluster, FakeDeps, fake_registry, shop_cluster

from agent.deps import build_deps
from agent.runner import RunEvent, Runner
from agent.settings import Settings
from knowledge.runbooks import load_runbooks

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


@pytest.fixture
def cluster() -> FakeCluster:
    return shop_cluster()


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "shop-bad-deploy.md").write_text(RUNBOOK)
    return d


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


@pytest.fixture
def make_runner(tmp_path: Path, cluster: FakeCluster, runbook_dir: Path) -> Iterator[Callable[..., Runner]]:
    runners: list[Runner] = []

    def make(policy: str | None = None, **settings_kw: Any) -> Runner:
        if policy is not None:
            path = tmp_path / "policy.yaml"
            path.write_text(policy)
            settings_kw["policy_file"] = path
        settings = make_settings(tmp_path, **settings_kw)
        registry = fake_registry()
        deps = build_deps(settings, tools=registry, tool_deps=FakeDeps(cluster))
        runbooks = load_runbooks([runbook_dir], tool_names=registry.names(), include_packaged=False)
        runner = Runner(settings, dataclasses.replace(deps, runbooks=runbooks))
        runners.append(runner)
        return runner

    yield make
    for r in runners:
        r.close()


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
