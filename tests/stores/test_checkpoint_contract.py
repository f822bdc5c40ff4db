"""Checkpoints on SQLite and on PostgreSQL: an incident run paused for approval by one Runner is
resumed by another one with its own connections (another worker), and its change is applied once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fakes.agent_harness import RUNBOOK, make_settings
from fakes.scripted_tools import FakeCluster, FakeDeps, fake_registry, shop_cluster
from stores.conftest import Backend

from agent.approvals import ApprovalDecision
from agent.deps import build_deps
from agent.runner import Runner
from agent.storage import db as storage_db
from knowledge.runbooks import load_runbooks

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _runner(backend: Backend, cluster: FakeCluster, tmp_path: Path) -> Runner:
    runbooks_dir = tmp_path / "runbooks"
    runbooks_dir.mkdir(exist_ok=True)
    (runbooks_dir / "shop-bad-deploy.md").write_text(RUNBOOK)
    settings = make_settings(tmp_path, database_url=backend.url)
    registry = fake_registry()
    deps = build_deps(settings, tools=registry, tool_deps=FakeDeps(cluster))
    runbooks = load_runbooks([runbooks_dir], tool_names=registry.names(), include_packaged=False)
    return Runner(settings, dataclasses.replace(deps, runbooks=runbooks))


def test_a_run_paused_in_one_worker_is_resumed_by_another(backend: Backend, tmp_path: Path) -> None:
    cluster = shop_cluster()
    first = _runner(backend, cluster, tmp_path)
    out = first.investigate("checkout is throwing 500s")
    assert out.status == "awaiting_approval" and cluster.applied == []
    req = out.approvals[0]
    first.close()
    storage_db.close_pools()  # the first worker is gone, connections and all

    second = _runner(backend, cluster, tmp_path)
    try:
        assert second.waiting_for(out.incident_id)
        done = second.resume(
            req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="alice")
        )
        assert done.status == "resolved", done.report
        assert cluster.applied == [("k8s_rollback", {"deployment": "checkout", "namespace": "shop"})]
        kinds = [r.kind for r in second.deps.audit.rows(incident_id=out.incident_id)]
        assert kinds.count("action_applied") == 1 and kinds.count("approval_requested") == 1
        assert second.deps.audit.verify().ok
    finally:
        second.close()
    files = {p.name for p in (tmp_path / "data").glob("*.sqlite")}
    moved = {"checkpoints.sqlite", "audit.sqlite", "approvals.sqlite"}
    assert files & moved == (set() if backend.name == "postgres" else moved)
