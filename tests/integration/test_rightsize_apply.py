"""`recommend` end to end on the Kubernetes stand-in with a scripted Prometheus: the history read per
container, the recommendation, and its application through the guard (dry run, policy, audit, undo)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakes.observability import FakeBackend, matrix, vector
from kube_fixtures import NS, World, world_fixture  # noqa: F401

from agent.audit import AuditLog
from agent.policy import Policy
from agent.rightsize import apply_through_guard, recommendations
from tools.deps import Deps
from tools.registry import default_registry

MI = 1024**2


def _history(params: dict[str, list[str]]) -> tuple[int, Any]:
    query = params["query"][0]
    pods = [{"pod": "api-h2-aaaaa", "container": "api"}, {"pod": "api-h2-bbbbb", "container": "api"}]
    if "container_cpu_usage_seconds_total" in query:
        return matrix([(pods[0], [0.1 + 0.001 * i for i in range(100)]), (pods[1], [0.2] * 100)])
    return matrix([(pods[0], [200 * MI] * 100), (pods[1], [300 * MI] * 100)])


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        backend.route("/api/v1/query_range", _history)
        backend.route("/api/v1/query", vector([]))
        yield backend


def _deps(
    world: World, prom: FakeBackend, tmp_path: Path, autonomy: str, approvers: tuple[str, ...] = ()
) -> SimpleNamespace:
    tool_deps = Deps(kubeconfig=world.kubeconfig, prometheus_url=prom.url, raw_dir=tmp_path / "raw")
    policy = Policy.model_validate(
        {
            "default_autonomy": autonomy,
            "guardrails": {
                "auto_actions": ["k8s_set_resources"],
                "cooldown_s": 0,
                "approvers": list(approvers),
            },
        }
    )
    return SimpleNamespace(
        settings=SimpleNamespace(slo_dir=None, cost_cpu_hour=0.031611, cost_gib_hour=0.004237),
        tools=default_registry(),
        tool_deps=tool_deps,
        policy=policy,
        audit=AuditLog(tmp_path / "audit.sqlite"),
        now=lambda: datetime.now(UTC),
        extra={},
    )


def _resources(world: World) -> dict[str, Any]:
    dep = world.store.get("deployments", NS, "api")
    return dict(dep["spec"]["template"]["spec"]["containers"][0].get("resources") or {})


def test_recommend_reads_every_pod_and_pools_the_samples(
    world: World, prom: FakeBackend, tmp_path: Path
) -> None:
    deps = _deps(world, prom, tmp_path, "approve")
    report = recommendations(deps.settings, deps.tool_deps, NS, hours=24)
    (row,) = report["workloads"]
    assert row["points"] == {"cpu": 200, "memory": 200}  # two pods x 100 samples, pooled as KRR does
    assert row["action"]["args"]["memory_request"] == "345Mi"  # peak 300Mi x 1.15
    assert row["cost"]["monthly"] > 0 and row["cost"]["notes"] == [
        "no request set for CPU or memory: priced at its use"
    ]
    queries = [p["query"][0] for path, p in prom.requests if path == "/api/v1/query_range"]
    assert all('pod=~"api-[a-z0-9]+-[a-z0-9]+"' in q for q in queries)


def test_apply_waits_for_a_human_in_approve_mode_then_applies_with_undo(
    world: World, prom: FakeBackend, tmp_path: Path
) -> None:
    deps = _deps(world, prom, tmp_path, "approve")
    args = recommendations(deps.settings, deps.tool_deps, NS, hours=24)["workloads"][0]["action"]["args"]
    waiting = apply_through_guard(deps, args, "cli:alice", approved=False)
    assert waiting["status"] == "needs_approval" and "memory" in waiting["diff"]
    assert _resources(world) == {}  # nothing changed yet
    done = apply_through_guard(deps, args, "cli:alice", approved=True)
    assert done["status"] == "applied", done
    assert _resources(world)["limits"]["memory"] == "345Mi"
    (row,) = deps.audit.rows(kind="action_applied")
    assert row.actor == "cli:alice" and row.data["effect"]["undo"]["tool"] == "k8s_set_resources"
    again = apply_through_guard(deps, args, "cli:alice", approved=True)
    assert again["status"] == "noop"


def test_observe_mode_denies(world: World, prom: FakeBackend, tmp_path: Path) -> None:
    deps = _deps(world, prom, tmp_path, "observe")
    args = recommendations(deps.settings, deps.tool_deps, NS, hours=24)["workloads"][0]["action"]["args"]
    out = apply_through_guard(deps, args, "cli:bob", approved=True)
    assert out["status"] == "deny" and "observe mode" in " ".join(out["reasons"])
    assert _resources(world) == {}


def test_yes_from_someone_off_the_approver_list_applies_nothing(
    world: World, prom: FakeBackend, tmp_path: Path
) -> None:
    deps = _deps(world, prom, tmp_path, "approve", approvers=("cli:alice",))
    args = recommendations(deps.settings, deps.tool_deps, NS, hours=24)["workloads"][0]["action"]["args"]
    out = apply_through_guard(deps, args, "cli:mallory", approved=True)
    assert out["status"] == "needs_approval"
    assert "cli:mallory is not on the policy's approver allow-list" in out["reasons"]
    assert _resources(world) == {} and deps.audit.rows(kind="action_applied") == []
    assert apply_through_guard(deps, args, "cli:alice", approved=True)["status"] == "applied"
