"""The MCP server as an MCP client sees it, on the Kubernetes API stand-in: the tools listed with
their schemas, a read answered (secrets masked), an action held for a human with nothing changed,
a protected namespace refused, an unknown tool an error, and an approved action applied once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from kube_fixtures import NS, World, world_fixture  # noqa: F401
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from agent.approvals import ApprovalDecision, ApprovalStore
from agent.audit import AuditLog
from agent.mcp_calls import GuardedCalls, decide_detached
from agent.mcp_server import build_server
from agent.policy import Policy
from tools.deps import Deps
from tools.registry import default_registry

pytestmark = pytest.mark.timeout(60)


def _deps(world: World, tmp_path: Path, **guardrails: Any) -> SimpleNamespace:
    policy = Policy.model_validate(
        {"default_autonomy": "approve", "guardrails": {"cooldown_s": 0, **guardrails}}
    )
    return SimpleNamespace(
        settings=SimpleNamespace(slo_dir=None, approval_ttl_s=3600),
        tools=default_registry(),
        tool_deps=Deps(kubeconfig=world.kubeconfig, raw_dir=tmp_path / "raw"),
        policy=policy,
        audit=AuditLog(tmp_path / "audit.sqlite"),
        approvals=ApprovalStore(tmp_path / "approvals.sqlite"),
        now=lambda: datetime.now(UTC),
        extra={},
    )


def _session(deps: SimpleNamespace, body: Callable[[Client], Awaitable[Any]]) -> Any:
    """Run ``body`` with an MCP client connected in memory to a server over ``deps``."""
    server = build_server(GuardedCalls(deps, actor="mcp:test"))  # type: ignore[arg-type]

    async def main() -> Any:
        async with Client(server) as client:
            return await body(client)

    return anyio.run(main)


def _replicas(world: World) -> int:
    return int(world.store.get("deployments", NS, "api")["spec"]["replicas"])


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content)


def test_lists_every_read_and_action_with_its_schema(world: World, tmp_path: Path) -> None:
    tools = _session(_deps(world, tmp_path), lambda c: c.list_tools()).tools
    by_name = {t.name: t for t in tools}
    registry = default_registry()
    assert set(registry.names()) | {"approval_status", "apply_approved"} == set(by_name)
    get, scale, delete = by_name["k8s_get"], by_name["k8s_scale"], by_name["k8s_delete_pod"]
    assert get.annotations.read_only_hint is True and get.description.startswith(
        registry.get("k8s_get").description
    )
    assert {"kind", "name", "namespace"} <= set(get.input_schema["properties"])
    assert set(scale.input_schema["required"]) >= {"deployment", "namespace", "replicas"}
    assert "reason" in scale.input_schema["properties"]  # shown to the approver
    assert "dry_run" not in scale.input_schema["properties"]  # the guard decides that, never the client
    assert scale.annotations.read_only_hint is False and delete.annotations.destructive_hint is True


def test_a_read_runs_and_secret_values_never_come_back(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)

    def literal_password(dep: dict[str, Any]) -> None:
        env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
        env.append({"name": "DB_PASSWORD", "value": "hunter2-literal"})

    world.store.mutate("deployments", NS, "api", literal_password)

    async def body(c: Client) -> tuple[Any, Any]:
        dep = await c.call_tool("k8s_get", {"kind": "deployment", "name": "api", "namespace": NS})
        secret = await c.call_tool("k8s_get", {"kind": "secret", "name": "api-secret", "namespace": NS})
        return dep, secret

    dep, secret = _session(deps, body)
    assert not dep.is_error and "api:v2" in _text(dep) and "DB_PASSWORD" in _text(dep)
    assert "hunter2-literal" not in _text(dep) and "hunter2-literal" not in str(dep.structured_content)
    assert not secret.is_error and "api-secret" in _text(secret)
    assert "eA==" not in _text(secret) and "eA==" not in str(secret.structured_content)
    calls = [r.data for r in deps.audit.rows(kind="tool_call")]
    assert [c["tool"] for c in calls] == ["k8s_get", "k8s_get"] and calls[0]["via"] == "mcp"


def test_an_action_waits_for_a_human_and_changes_nothing(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)
    args = {"deployment": "api", "namespace": NS, "replicas": 3, "reason": "more headroom"}
    result = _session(deps, lambda c: c.call_tool("k8s_scale", args))
    out = result.structured_content
    assert not result.is_error and out["status"] == "pending_approval"
    assert _replicas(world) == 2  # nothing changed in the cluster
    (req,) = deps.approvals.list(status="pending")  # the store `devops-agent approvals list` reads
    assert req.id == out["approval_id"] and req.detached and req.tool == "k8s_scale"
    assert req.args == {"deployment": "api", "namespace": NS, "replicas": 3}  # the reason is not an argument
    assert req.reason == "more headroom" and "2 -> 3" in req.diff.replace("→", "->")
    kinds = [r.kind for r in deps.audit.rows()]
    assert kinds == ["tool_call", "decision", "approval_requested"] and "action_applied" not in kinds
    assert deps.audit.rows(kind="decision")[0].data["decision"] == "needs_approval"


def test_a_protected_namespace_is_refused_with_the_reason(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path, protected_namespaces=[NS])
    args = {"deployment": "api", "namespace": NS, "replicas": 3}
    result = _session(deps, lambda c: c.call_tool("k8s_scale", args))
    assert result.is_error and result.structured_content["status"] == "denied"
    assert f"namespace {NS} is protected" in _text(result)
    assert _replicas(world) == 2 and deps.approvals.list() == []
    assert deps.audit.rows(kind="decision")[0].data["decision"] == "deny"


def test_unknown_tools_and_bad_arguments_are_clear_errors(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)

    async def body(c: Client) -> tuple[str, Any, Any]:
        with pytest.raises(MCPError) as unknown:
            await c.call_tool("k8s_nuke", {"namespace": NS})
        bad = await c.call_tool("k8s_scale", {"deployment": "api", "namespace": NS, "replicas": "many"})
        extra = await c.call_tool("k8s_get", {"kind": "pod", "name": "x", "dry_run": False})
        return str(unknown.value), bad, extra

    unknown, bad, extra = _session(deps, body)
    assert "unknown tool 'k8s_nuke'" in unknown and "k8s_scale" in unknown
    assert bad.is_error and "invalid arguments for k8s_scale: replicas" in _text(bad)
    assert extra.is_error and "dry_run" in _text(extra)
    assert _replicas(world) == 2 and deps.approvals.list() == []


def test_an_approved_action_is_applied_once_through_the_guard(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path)

    async def ask(c: Client) -> str:
        result = await c.call_tool("k8s_scale", {"deployment": "api", "namespace": NS, "replicas": 3})
        early = await c.call_tool("apply_approved", {"approval_id": result.structured_content["approval_id"]})
        assert early.is_error and "pending, not approved" in _text(early)
        return str(result.structured_content["approval_id"])

    approval_id = _session(deps, ask)
    assert _replicas(world) == 2
    decide_detached(
        deps.approvals,
        deps.policy,
        deps.audit,
        ApprovalDecision(approval_id=approval_id, decision="approve", approver="cli:alice"),
    )

    async def apply(c: Client) -> tuple[Any, Any, Any]:
        first = await c.call_tool("apply_approved", {"approval_id": approval_id})
        second = await c.call_tool("apply_approved", {"approval_id": approval_id})
        status = await c.call_tool("approval_status", {"approval_id": approval_id})
        return first, second, status

    first, second, status = _session(deps, apply)
    assert first.structured_content["status"] == "applied" and _replicas(world) == 3
    assert second.structured_content["status"] == "noop" and "already applied" in _text(second)
    assert status.structured_content["status"] == "approved" and status.structured_content["applied"] is True
    (applied,) = deps.audit.rows(kind="action_applied")
    assert applied.actor == "cli:alice" and applied.idempotency_key == approval_id
    assert deps.audit.verify().ok


def test_an_action_the_policy_lets_run_alone_is_dry_run_then_applied(world: World, tmp_path: Path) -> None:
    deps = _deps(world, tmp_path, auto_actions=["k8s_scale"])
    deps.policy = deps.policy.model_copy(update={"default_autonomy": "auto"})
    result = _session(
        deps, lambda c: c.call_tool("k8s_scale", {"deployment": "api", "namespace": NS, "replicas": 3})
    )
    assert result.structured_content["status"] == "applied" and _replicas(world) == 3
    calls = [(r.data["purpose"], r.data["dry_run"]) for r in deps.audit.rows(kind="tool_call")]
    assert calls == [("dry_run", True), ("apply", False)]
    assert deps.audit.rows(kind="action_applied")[0].actor == "policy:auto" and deps.approvals.list() == []
