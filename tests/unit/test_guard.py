"""Each guardrail blocks what it must and allows what it may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.guard import ActionRecord, ProposedAction, guard_action, target_key
from agent.policy import Policy
from tools.base import ActionEffect, Target, ToolResult, tool

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@tool(risk="write")
def k8s_rollback(deps: object, deployment: str, namespace: str, *, dry_run: bool = False) -> ToolResult:
    """Roll back."""
    return ToolResult.ok("")


@tool(risk="write")
def k8s_scale(
    deps: object, deployment: str, namespace: str, replicas: int, *, dry_run: bool = False
) -> ToolResult:
    """Scale."""
    return ToolResult.ok("")


@tool(risk="destructive")
def k8s_delete_pod(deps: object, pod: str, namespace: str, *, dry_run: bool = False) -> ToolResult:
    """Delete."""
    return ToolResult.ok("")


@tool(risk="read")
def k8s_get(deps: object, kind: str, name: str) -> ToolResult:
    """Get."""
    return ToolResult.ok("")


def effect(ns: str = "prod", name: str = "predictor", kind: str = "Deployment", **kw: object) -> ActionEffect:
    labels = kw.pop("labels", {})
    return ActionEffect(target=Target(kind=kind, name=name, namespace=ns, labels=labels), **kw)  # type: ignore[arg-type]


def policy(**guardrails: object) -> Policy:
    return Policy.model_validate(
        {
            "default_autonomy": "approve",
            "clusters": [
                {
                    "context": "*",
                    "namespaces": [
                        {"match": "prod", "autonomy": "auto"},
                        {"match": "obs-*", "autonomy": "observe"},
                        {"match": "sugg", "autonomy": "suggest"},
                    ],
                }
            ],
            "guardrails": guardrails,
        }
    )


def run(t, eff, pol=None, history=(), args=None):  # type: ignore[no-untyped-def]
    action = ProposedAction(
        tool=t.name if t else "nope", args=args or {"namespace": eff.target.namespace if eff else "prod"}
    )
    return guard_action(action, t, eff, pol or policy(), list(history), NOW)


def test_auto_allow_listed_action_runs_alone() -> None:
    assert run(k8s_rollback, effect()).decision == "allow"


def test_default_autonomy_is_approve() -> None:
    v = run(k8s_rollback, effect(ns="other"))
    assert v.decision == "needs_approval"
    assert "approve mode" in v.explain()


def test_read_tools_always_allowed() -> None:
    assert run(k8s_get, None).decision == "allow"


def test_unknown_tool_denied() -> None:
    assert run(None, effect()).decision == "deny"


def test_unclassifiable_action_needs_approval_even_in_auto() -> None:
    v = run(k8s_rollback, None, args={"namespace": "prod"})
    assert v.decision == "needs_approval"
    assert "cannot classify" in v.explain()


def test_destructive_always_needs_a_human() -> None:
    v = run(k8s_delete_pod, effect(kind="Pod", pods_total=3, pods_disrupted=1))
    assert v.decision == "needs_approval"


def test_action_not_in_auto_list_needs_approval() -> None:
    v = run(k8s_rollback, effect(), policy(auto_actions=["k8s_scale"]))
    assert v.decision == "needs_approval"


@pytest.mark.parametrize("ns,word", [("obs-x", "observe"), ("sugg", "suggest")])
def test_observe_and_suggest_never_act(ns: str, word: str) -> None:
    v = run(k8s_rollback, effect(ns=ns))
    assert v.decision == "deny" and word in v.explain()


def test_protected_namespace_denied_via_target_or_args() -> None:
    assert run(k8s_rollback, effect(ns="kube-system")).decision == "deny"
    # the model's arguments name a protected namespace even if the dry run claims another
    v = run(k8s_rollback, effect(ns="prod"), args={"namespace": "kube-system"})
    assert v.decision == "deny"


def test_protected_label_denied() -> None:
    v = run(k8s_rollback, effect(labels={"devops-agent.io/protected": "true"}))
    assert v.decision == "deny" and "protected label" in v.explain()


def test_forbidden_action_patterns() -> None:
    assert run(k8s_rollback, effect(), policy(forbidden_actions=["k8s_rollback"])).decision == "deny"
    pol = policy(forbidden_actions=["k8s_rollback:prod/feature-*"])
    assert run(k8s_rollback, effect(name="feature-store"), pol).decision == "deny"
    assert run(k8s_rollback, effect(name="predictor"), pol).decision == "allow"


def test_allow_list_denies_others() -> None:
    assert run(k8s_rollback, effect(), policy(allowed_actions=["k8s_scale"])).decision == "deny"


def test_replica_bounds_and_step() -> None:
    pol = policy(replicas={"min": 1, "max": 10, "max_step": 3})
    assert run(k8s_scale, effect(replicas_before=3, replicas_after=5), pol).decision == "allow"
    assert run(k8s_scale, effect(replicas_before=3, replicas_after=0), pol).decision == "deny"
    assert run(k8s_scale, effect(replicas_before=9, replicas_after=11), pol).decision == "deny"
    assert run(k8s_scale, effect(replicas_before=3, replicas_after=7), pol).decision == "deny"


def test_blast_radius() -> None:
    assert run(k8s_rollback, effect(pods_total=4, pods_disrupted=1)).decision == "allow"
    assert run(k8s_rollback, effect(pods_total=4, pods_disrupted=2)).decision == "needs_approval"
    pol = policy(blast_radius={"auto_max_fraction": 0.25, "max_fraction": 0.5})
    assert run(k8s_rollback, effect(pods_total=4, pods_disrupted=3), pol).decision == "deny"


def test_cooldown_per_action_and_target() -> None:
    key = target_key("Deployment", "prod", "predictor")
    recent = [ActionRecord("k8s_rollback", key, NOW - timedelta(seconds=60))]
    assert run(k8s_rollback, effect(), history=recent).decision == "deny"
    old = [ActionRecord("k8s_rollback", key, NOW - timedelta(seconds=900))]
    assert run(k8s_rollback, effect(), history=old).decision == "allow"
    other = [
        ActionRecord("k8s_rollback", target_key("Deployment", "prod", "cache"), NOW - timedelta(seconds=60))
    ]
    assert run(k8s_rollback, effect(), history=other).decision == "allow"


def test_max_actions_per_hour() -> None:
    hist = [ActionRecord("k8s_scale", f"x{i}", NOW - timedelta(minutes=i)) for i in range(3)]
    assert run(k8s_rollback, effect(), policy(max_actions_per_hour=3), hist).decision == "deny"
    assert run(k8s_rollback, effect(), policy(max_actions_per_hour=4), hist).decision == "allow"


def test_freeze_window() -> None:
    absolute = policy(
        freeze_windows=[{"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z", "reason": "launch"}]
    )
    v = run(k8s_rollback, effect(), absolute)
    assert v.decision == "deny" and "launch" in v.explain()
    weekly = policy(freeze_windows=[{"days": ["sat", "sun"], "from": "00:00", "to": "23:59"}])
    assert run(k8s_rollback, effect(), weekly).decision == "allow"  # NOW is a Thursday


def test_model_cannot_lower_risk() -> None:
    action = ProposedAction(tool="k8s_delete_pod", args={"namespace": "prod", "risk": "read"})
    v = guard_action(action, k8s_delete_pod, effect(kind="Pod"), policy(), [], NOW)
    assert v.risk == "destructive" and v.decision == "needs_approval"
