"""Fixtures for graph tests: a Runner over the scripted cluster, with a tmp data dir."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.agent_harness import RUNBOOK, make_settings
from fakes.scripted_tools import FakeCluster, FakeDeps, fake_registry, shop_cluster

from agent.deps import build_deps
from agent.runner import Runner
from knowledge.runbooks import load_runbooks


@pytest.fixture
def cluster() -> FakeCluster:
    return shop_cluster()


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "shop-bad-deploy.md").write_text(RUNBOOK)
    return d


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
